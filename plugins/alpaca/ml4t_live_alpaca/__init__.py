"""ml4t-live broker and feed: Alpaca through alpaca-py."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml4t_live_alpaca.broker import AlpacaBroker
    from ml4t_live_alpaca.config import AlpacaBrokerConfig, AlpacaFeedConfig
    from ml4t_live_alpaca.feed import AlpacaDataFeed

#: Public name -> its module, imported on first use: the entry point
#: (ml4t_live_alpaca.plugin) loads with every command and must not import alpaca-py.
_LAZY = {
    "AlpacaBroker": "ml4t_live_alpaca.broker",
    "AlpacaBrokerConfig": "ml4t_live_alpaca.config",
    "AlpacaFeedConfig": "ml4t_live_alpaca.config",
    "AlpacaDataFeed": "ml4t_live_alpaca.feed",
}

__all__ = ["AlpacaBroker", "AlpacaBrokerConfig", "AlpacaDataFeed", "AlpacaFeedConfig"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
