"""ml4t-live risk check: drawdown."""
