"""ml4t-live risk check: kill-switch."""
