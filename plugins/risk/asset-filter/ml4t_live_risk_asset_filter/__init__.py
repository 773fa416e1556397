"""ml4t-live risk check: asset-filter."""
