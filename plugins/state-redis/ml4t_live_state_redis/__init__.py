"""ml4t-live state backend: Redis (atomic updates, journal stream, trading-state pub/sub)."""
