"""ml4t-live risk check: max-positions."""
