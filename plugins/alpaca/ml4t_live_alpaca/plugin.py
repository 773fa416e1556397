"""Entry point of ml4t-live-alpaca (work in progress: registers nothing yet)."""
