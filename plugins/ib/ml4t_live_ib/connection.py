"""The socket to TWS / IB Gateway: safe connect (paper unless told), account choice, reconnect."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

import ib_async
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from ml4t_live_core.errors import BrokerUnavailableError
from ml4t_live_core.logs import register_secret
from ml4t_live_ib.config import LIVE_PORTS, IBConfig

log = logging.getLogger(__name__)

#: IB system messages: connectivity lost / restored (data lost) / restored (data kept)
CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
#: "Max rate of messages per second has been exceeded"
PACING_VIOLATION = 100
#: ib_async's loggers; they print trades and account values, so the account id is masked there
IB_ASYNC_LOGGERS = (
    "ib_async",
    "ib_async.ib",
    "ib_async.wrapper",
    "ib_async.client",
    "ib_async.Decoder",
    "ib_async.connection",
)


class AccountRedactor(logging.Filter):
    """Masks account ids in ib_async's log records (account ids are secrets)."""

    def __init__(self) -> None:
        super().__init__("ml4t_live_ib.redact")
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, None
        return True


REDACTOR = AccountRedactor()
for _name in IB_ASYNC_LOGGERS:
    logging.getLogger(_name).addFilter(REDACTOR)


def mask_accounts(text: str) -> str:
    """`text` with every managed account id masked: IB error texts may name the account, and
    they become rejection reasons the strategy, the journal and the logs see."""
    for secret in REDACTOR.secrets:
        text = text.replace(secret, "***")
    return text


class LiveAccountRefused(BrokerUnavailableError):
    """The gateway is logged into a live account but config did not say live = true."""


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, BrokerUnavailableError) and not isinstance(exc, LiveAccountRefused)


class IBConnection:
    """Owns the ib_async `IB` object and its connect / reconnect cycle."""

    def __init__(self, config: IBConfig, ib: ib_async.IB | None = None):
        self.config = config
        self.ib = ib or ib_async.IB()
        self.ib.client.MaxRequests = config.max_requests_per_second
        self.account = ""
        self.closing = False
        self._reconnect_task: asyncio.Task | None = None

    async def open(self) -> None:
        """Connect and synchronise (positions, open orders, executions, account values)."""
        if (
            self.config.port in LIVE_PORTS and not self.config.live
        ):  # config validates too; fail closed twice
            raise LiveAccountRefused(f"port {self.config.port} is a live port and live = false")
        self.closing = False
        wanted = os.environ.get(self.config.account_env, "")
        try:
            await self.ib.connectAsync(
                self.config.host,
                self.config.port,
                clientId=self.config.client_id,
                timeout=self.config.connect_timeout,
                account=wanted,
            )
        except (OSError, TimeoutError, ConnectionError) as exc:
            raise BrokerUnavailableError(
                f"cannot reach IB at {self.config.host}:{self.config.port} "
                f"(client id {self.config.client_id}): {exc!r}"
            ) from exc
        self.account = self._choose_account(wanted)

    def _choose_account(self, wanted: str) -> str:
        accounts = self.ib.managedAccounts()
        REDACTOR.secrets.update(accounts)
        for account in accounts:  # the runtime's log handlers mask them too
            register_secret(account)
        if wanted and wanted not in accounts:
            self.ib.disconnect()
            # the account id is a secret: say which variable, not its value
            raise BrokerUnavailableError(
                f"the account in ${self.config.account_env} is not managed by this gateway"
            )
        if not wanted and len(accounts) != 1:
            self.ib.disconnect()
            raise BrokerUnavailableError(
                f"the gateway manages {len(accounts)} accounts; "
                f"set ${self.config.account_env} to choose one"
            )
        account = wanted or accounts[0]
        # IB paper accounts start with "D" (DU..., DF...): a live login needs live = true
        if not self.config.live and not account.startswith("D"):
            self.ib.disconnect()
            raise LiveAccountRefused(
                "the gateway is logged into a live (non-paper) account and live = false"
            )
        return account

    async def close(self) -> None:
        self.closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            await asyncio.gather(self._reconnect_task, return_exceptions=True)
        self.ib.disconnect()

    @property
    def connected(self) -> bool:
        return self.ib.isConnected() and self.ib.client.isReady()

    def reconnect_soon(
        self, on_restored: Callable[[], Awaitable[None]], on_gave_up: Callable[[str], None]
    ) -> None:
        """Start (once) a backoff loop that reconnects, then calls `on_restored`."""
        if self.closing or (self._reconnect_task is not None and not self._reconnect_task.done()):
            return
        self._reconnect_task = asyncio.get_running_loop().create_task(
            self._reconnect(on_restored, on_gave_up)
        )

    async def _reconnect(
        self, on_restored: Callable[[], Awaitable[None]], on_gave_up: Callable[[str], None]
    ) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.reconnect_attempts + 1),
            wait=wait_exponential(
                multiplier=self.config.reconnect_initial_delay, max=self.config.reconnect_max_delay
            ),
            retry=retry_if_exception(_worth_retrying),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if self.closing:
                        return
                    await self.open()
        except BrokerUnavailableError as exc:
            log.error(
                "IB reconnect gave up after %d attempts: %s", self.config.reconnect_attempts, exc
            )
            on_gave_up(str(exc))
            return
        await on_restored()
