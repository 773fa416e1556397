"""Entry point of ml4t-live-state-sqlite (work in progress: registers nothing yet)."""
