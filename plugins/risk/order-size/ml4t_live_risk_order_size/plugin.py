"""Entry point of ml4t-live-risk-order-size (work in progress: registers nothing yet)."""
