"""Fault injection for the Alpaca simulator: HTTP failures, delays, lost answers, stream faults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class HttpFault:
    """What to do to the next `times` requests matching `method` (None: any) and path prefix.

    `status` answers with that HTTP error instead of handling the request; `delay` waits
    before handling (longer than the client's timeout, it is a timeout); `answer_delay`
    handles the request at once but answers late (its trade updates overtake the answer);
    `drop_response` handles the request, then cuts the connection before answering (a lost
    acknowledgement).
    """

    path: str
    method: str | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    answer_delay: float = 0.0
    drop_response: bool = False
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method == method)
            and path.startswith(self.path)
        )


@dataclass
class Faults:
    """The simulator's pending faults; each fires for as many matching requests as it is armed."""

    http: list[HttpFault]
    #: Fill events to send twice (same execution id), as a flaky upstream might.
    duplicate_fills: int = 0
    #: Trading-stream connection attempts to refuse with HTTP 503 (a stream outage).
    refuse_trade_streams: int = 0

    def __init__(self) -> None:
        self.http = []
        self.duplicate_fills = 0
        self.refuse_trade_streams = 0

    def take(self, method: str, path: str) -> HttpFault | None:
        for fault in self.http:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.http.remove(fault)
                return fault
        return None
