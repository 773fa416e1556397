"""ml4t-live broker and feed: Alpaca through alpaca-py."""
