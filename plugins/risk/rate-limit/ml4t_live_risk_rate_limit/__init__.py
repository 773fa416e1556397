"""ml4t-live risk check: rate-limit."""
