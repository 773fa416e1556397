"""ml4t-live risk check: order-size."""
