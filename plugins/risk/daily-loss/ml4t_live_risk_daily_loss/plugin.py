"""Entry point of ml4t-live-risk-daily-loss (work in progress: registers nothing yet)."""
