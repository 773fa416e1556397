"""Entry point of ml4t-live-risk-stale-data (work in progress: registers nothing yet)."""
