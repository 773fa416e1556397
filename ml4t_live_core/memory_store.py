"""An in-memory `StateStore`: the reference implementation of the protocol, for tests and
notebooks. Nothing survives the process; durable backends are the state-* plugins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ml4t_live_core.protocols import TradingStateRecord
from ml4t_live_core.state import (
    JournalRecord,
    RiskState,
    journal_seq,
    state_after_journal,
    state_after_reset,
)


class MemoryStateStore:
    backend = "memory"

    def __init__(self, location: str = "<memory>"):
        self.location = location
        self.state: RiskState | None = None
        self.journal: list[JournalRecord] = []
        self.trading_state: TradingStateRecord | None = None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def load_state(self) -> RiskState | None:
        seqs = [s for s in (journal_seq(r.client_order_id) for r in self.journal) if s is not None]
        state = self.state.copy() if self.state else None
        return state_after_journal(state, max(seqs, default=None))

    async def save_state(self, state: RiskState) -> None:
        self.state = state.copy()

    async def append_journal(self, record: JournalRecord) -> None:
        self.journal.append(record)

    async def read_journal(
        self, *, since: datetime | None = None, asset: str | None = None
    ) -> Sequence[JournalRecord]:
        return [
            r
            for r in self.journal
            if (since is None or r.timestamp >= since) and (asset is None or r.asset == asset)
        ]

    async def read_trading_state(self) -> TradingStateRecord | None:
        return self.trading_state

    async def write_trading_state(self, record: TradingStateRecord) -> None:
        self.trading_state = record

    async def reset(self) -> list[str]:
        loaded = await self.load_state()
        now = datetime.now(UTC)
        self.state = state_after_reset(loaded.next_client_order_seq - 1 if loaded else None, now)
        self.trading_state = TradingStateRecord(
            self.state.trading_state, self.state.trading_state_reason, now
        )
        return []
