"""ml4t-live observer: a Prometheus metrics endpoint."""
