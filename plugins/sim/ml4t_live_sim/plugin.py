"""Entry point of ml4t-live-sim (registrations arrive with the broker and feeds)."""
