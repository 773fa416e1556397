"""ml4t-live risk check: duplicate."""
