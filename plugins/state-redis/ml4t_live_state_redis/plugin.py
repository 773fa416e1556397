"""Entry point of ml4t-live-state-redis (work in progress: registers nothing yet)."""
