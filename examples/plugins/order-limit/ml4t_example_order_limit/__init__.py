"""Example risk check: at most `max_orders` orders per asset per trading day."""
