"""ml4t-live risk check: price-collar."""
