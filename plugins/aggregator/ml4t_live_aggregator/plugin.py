"""Entry point of ml4t-live-aggregator (work in progress: registers nothing yet)."""
