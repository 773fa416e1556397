"""ml4t-live risk check: daily-loss."""
