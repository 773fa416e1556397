"""Entry point of ml4t-live-prometheus (work in progress)."""
