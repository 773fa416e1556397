"""Local TWS-protocol gateway simulator that the real ib_async client talks to."""

from ml4t_live_testing.ib.gateway import IBGatewaySimulator

__all__ = ["IBGatewaySimulator"]
