"""Entry point of ml4t-live-risk-exposure (work in progress: registers nothing yet)."""
