"""Entry point of ml4t-live-risk-asset-filter (work in progress: registers nothing yet)."""
