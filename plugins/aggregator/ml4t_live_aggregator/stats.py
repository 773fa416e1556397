"""AggregatorStats: what the aggregator took in, emitted, refused or dropped, and capped logging."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("ml4t_live.aggregator")

#: Detailed log lines per kind of problem before only the counters keep going.
_LOG_LIMIT = 20


@dataclass(slots=True)
class AggregatorStats:
    """Counters of everything the aggregator took in, emitted, refused or dropped."""

    ticks: int = 0
    rejected: int = 0
    late: int = 0
    outside_session: int = 0
    bars_emitted: int = 0
    flushed_by_timer: int = 0
    partial_discarded: int = 0
    dropped_backpressure: int = 0
    coalesced_backpressure: int = 0
    #: Bars that had to wait for room under the "block" policy (the inner feed waited too).
    blocked_backpressure: int = 0
    last_rejection: str = ""
    _logged: dict[str, int] = field(default_factory=dict)

    def note(self, kind: str, message: str, *args: Any) -> None:
        """Log one problem, at most `_LOG_LIMIT` times per kind (counters always count)."""
        seen = self._logged.get(kind, 0)
        self._logged[kind] = seen + 1
        if seen < _LOG_LIMIT:
            log.warning(message, *args)
        elif seen == _LOG_LIMIT:
            log.warning("further %s problems are only counted (see the aggregator's stats)", kind)
