"""ml4t-live feed wrapper: ticks and source bars into N-minute bars."""
