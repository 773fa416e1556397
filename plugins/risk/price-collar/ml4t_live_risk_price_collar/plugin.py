"""Entry point of ml4t-live-risk-price-collar (work in progress: registers nothing yet)."""
