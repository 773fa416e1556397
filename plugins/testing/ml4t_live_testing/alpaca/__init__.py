"""Local Alpaca simulator (REST + websockets) that the real alpaca-py client talks to."""
