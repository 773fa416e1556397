"""Entry point of ml4t-live-risk-max-positions (work in progress: registers nothing yet)."""
