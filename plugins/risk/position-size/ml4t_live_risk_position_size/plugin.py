"""Entry point of ml4t-live-risk-position-size (work in progress: registers nothing yet)."""
