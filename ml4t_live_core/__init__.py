"""ml4t-live core."""
