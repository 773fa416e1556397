"""Entry point of ml4t-live-risk-rate-limit (work in progress: registers nothing yet)."""
