"""ml4t-live-ib: IBBroker and IBDataFeed on ib_async (TWS / IB Gateway)."""
