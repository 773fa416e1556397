"""Entry point of ml4t-live-ib: registers broker "ib" (and, later, feed "ib")."""
