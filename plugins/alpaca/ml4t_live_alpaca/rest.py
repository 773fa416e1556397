"""alpaca-py's synchronous REST clients, called off the event loop with timeouts and retries.

Transient failures (HTTP 429 and 5xx, timeouts, dropped connections) are retried with
tenacity's exponential backoff; a 429's Retry-After header is honoured.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import requests
from alpaca.common.exceptions import APIError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential
from tenacity.wait import wait_base

from ml4t_live_alpaca.config import AlpacaConnection
from ml4t_live_alpaca.credentials import Credentials

log = logging.getLogger("ml4t_live.alpaca")
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class AlpacaRequestError(RuntimeError):
    """A REST call failed for good; the message carries Alpaca's answer, never a credential."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status, self.code = status, code


class _TimeoutSession(requests.Session):
    """alpaca-py passes no timeout to requests, so a hung server would hang a thread forever."""

    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def prepare_client(client: Any, timeout: float) -> Any:
    """Give an alpaca-py REST client a request timeout and switch off its own retry loop
    (it sleeps a fixed 3 s per 429 on the calling thread and ignores Retry-After)."""
    client._session = _TimeoutSession(timeout)
    client._retry = 0
    return client


def status_of(exc: BaseException) -> int | None:
    return exc.status_code if isinstance(exc, APIError) else None


def is_transient(exc: BaseException) -> bool:
    """Worth another try: rate limited, a server error, or no answer at all."""
    if isinstance(exc, APIError):
        status = exc.status_code
        return status is not None and (status == 429 or status >= 500)
    return isinstance(
        exc, requests.Timeout | requests.ConnectionError | TimeoutError | ConnectionError
    )


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds from a 429's Retry-After header (seconds form), if there is one."""
    if not isinstance(exc, APIError) or exc.response is None:
        return None
    value = exc.response.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


class wait_retry_after(wait_base):
    """Exponential backoff, or the server's Retry-After when it gave one (capped at `cap`)."""

    def __init__(self, initial: float, cap: float):
        self._exponential = wait_exponential(multiplier=initial, min=initial, max=cap)
        self._cap = cap

    def __call__(self, retry_state: Any) -> float:
        outcome = retry_state.outcome
        hinted = retry_after(outcome.exception() if outcome is not None else None)
        return min(hinted, self._cap) if hinted is not None else self._exponential(retry_state)


def api_error_message(exc: BaseException, credentials: Credentials) -> str:
    """Alpaca's own message for an APIError (its JSON `message`), else the exception text."""
    text = str(exc)
    if isinstance(exc, APIError):
        try:
            body = json.loads(text)
            text = str(body.get("message", text))
        except ValueError:
            pass
        text = f"HTTP {exc.status_code}: {text}"
    return credentials.redact(text)


def api_error_code(exc: BaseException) -> int | None:
    if not isinstance(exc, APIError):
        return None
    try:
        return int(json.loads(str(exc)).get("code"))
    except (ValueError, TypeError, AttributeError):
        return None


class RestCaller:
    """Runs blocking alpaca-py calls in a worker thread, retrying transient failures."""

    def __init__(
        self, config: AlpacaConnection, credentials: Credentials, *, sleep: Sleep | None = None
    ):
        self._config = config
        self._credentials = credentials
        self._sleep = sleep or asyncio.sleep

    async def once(self, fn: Callable[..., T], *args: Any) -> T:
        # Bounded by the session timeout: the worker thread never outlives a hung request.
        return await asyncio.to_thread(fn, *args)

    def retrying(self) -> AsyncRetrying:
        cfg = self._config
        return AsyncRetrying(
            stop=stop_after_attempt(cfg.retry_attempts),
            wait=wait_retry_after(cfg.retry_initial_backoff, cfg.retry_max_backoff),
            retry=retry_if_exception(is_transient),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )

    async def call(self, fn: Callable[..., T], *args: Any, what: str) -> T:
        """One REST call with retries; a failure that stays is an `AlpacaRequestError`."""
        try:
            async for attempt in self.retrying():
                with attempt:
                    return await self.once(fn, *args)
        except Exception as exc:
            raise AlpacaRequestError(
                f"alpaca: {what} failed: {api_error_message(exc, self._credentials)}",
                status=status_of(exc),
                code=api_error_code(exc),
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _log_retry(self, retry_state: Any) -> None:
        exc = retry_state.outcome.exception()
        log.warning(
            "alpaca: transient failure (%s); attempt %d of %d",
            api_error_message(exc, self._credentials),
            retry_state.attempt_number,
            self._config.retry_attempts,
        )
