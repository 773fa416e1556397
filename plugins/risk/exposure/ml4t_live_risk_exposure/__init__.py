"""ml4t-live risk check: exposure."""
