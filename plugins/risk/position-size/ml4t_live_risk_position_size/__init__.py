"""ml4t-live risk check: position-size."""
