"""Entry point of ml4t-live-risk-duplicate (work in progress: registers nothing yet)."""
