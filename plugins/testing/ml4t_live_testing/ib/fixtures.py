"""IB gateway simulator fixtures (arrive with the IB simulator)."""
