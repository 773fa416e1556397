"""ml4t-live risk check: stale-data."""
