"""Entry point of ml4t-live-state-json (work in progress: registers nothing yet)."""
