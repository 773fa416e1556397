"""Alpaca simulator fixtures (arrive with the Alpaca simulator)."""
