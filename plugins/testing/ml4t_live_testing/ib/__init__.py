"""Local TWS-protocol gateway simulator that the real ib_async client talks to."""
