"""ml4t-live session report: HTML and PNG from the order journal."""
