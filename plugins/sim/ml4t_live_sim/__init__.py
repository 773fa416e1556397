"""ml4t-live-sim: paper broker and replay/synthetic feeds."""
