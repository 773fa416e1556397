"""Simulated venues for `ml4t-live demo --broker alpaca-sim|ib-sim`: the kit's simulators
behind the ordinary alpaca and ib plugins, so the demo needs no account and no network."""
