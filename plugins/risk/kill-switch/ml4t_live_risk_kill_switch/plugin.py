"""Entry point of ml4t-live-risk-kill-switch (work in progress: registers nothing yet)."""
