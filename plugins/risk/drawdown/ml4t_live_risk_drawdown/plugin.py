"""Entry point of ml4t-live-risk-drawdown (work in progress: registers nothing yet)."""
