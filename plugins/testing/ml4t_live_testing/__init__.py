"""ml4t-live-testing: local broker simulators (IB gateway, Alpaca) and pytest fixtures."""
