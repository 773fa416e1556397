"""The simulator speaks the TWS protocol well enough for the real ib_async client."""

from __future__ import annotations

import ib_async
from ml4t_live_testing.ib import IBGatewaySimulator


async def _connect(gw: IBGatewaySimulator, client_id: int = 7, timeout: float = 2) -> ib_async.IB:
    ib = ib_async.IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, timeout=timeout)
    return ib


async def test_real_client_connects_and_syncs(ib_gateway):
    ib_gateway.add_position("AAPL", 10, 150.0)
    ib = await _connect(ib_gateway)
    try:
        assert ib.isConnected()
        assert ib.managedAccounts() == ["DU1234567"]
        [pos] = ib.positions()
        assert (pos.contract.symbol, pos.position, pos.avgCost) == ("AAPL", 10.0, 150.0)
        values = {v.tag: float(v.value) for v in ib.accountValues() if v.tag == "NetLiquidation"}
        assert values["NetLiquidation"] == 1_000_000.0 + 10 * 150.0
    finally:
        ib.disconnect()


async def test_contract_details_qualify(ib_gateway):
    ib = await _connect(ib_gateway)
    try:
        [stock] = await ib.qualifyContractsAsync(ib_async.Stock("MSFT", "SMART", "USD"))
        assert stock.conId == 272093
        unknown = await ib.qualifyContractsAsync(ib_async.Stock("NOPE", "SMART", "USD"))
        assert unknown == [None]
    finally:
        ib.disconnect()


async def test_place_fill_partial_round_trip(ib_gateway):
    ib = await _connect(ib_gateway)
    try:
        [c] = await ib.qualifyContractsAsync(ib_async.Stock("AAPL", "SMART", "USD"))
        order = ib_async.LimitOrder("BUY", 100, 101.5, orderRef="cid-1")
        trade = ib.placeOrder(c, order)
        await _settle(ib)
        assert trade.orderStatus.status == "Submitted"
        ib_gateway.fill("cid-1", 40, price=101.0)
        await _settle(ib)
        assert trade.orderStatus.filled == 40
        assert trade.fills[0].commissionReport.commission > 0
        ib_gateway.set_price("AAPL", 101.4)
        await _settle(ib)
        assert trade.orderStatus.status == "Filled"
        assert [f.execution.shares for f in trade.fills] == [40, 60]
    finally:
        ib.disconnect()


async def _settle(ib: ib_async.IB) -> None:
    # a round trip through the gateway: everything sent before it has been decoded
    await ib.reqCurrentTimeAsync()


async def _raw(gw: IBGatewaySimulator):
    import asyncio

    return await asyncio.open_connection("127.0.0.1", gw.port)


async def test_bad_handshake_is_closed(ib_gateway):
    reader, writer = await _raw(ib_gateway)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    await writer.drain()
    assert await reader.read() == b""  # the simulator hangs up, answers nothing
    writer.close()


async def test_version_range_without_178_is_refused(ib_gateway):
    import struct

    reader, writer = await _raw(ib_gateway)
    writer.write(b"API\0" + struct.pack(">I", 9) + b"v100..150")
    await writer.drain()
    assert await reader.read() == b""
    writer.close()


async def test_oversized_frame_is_refused(ib_gateway):
    import struct

    reader, writer = await _raw(ib_gateway)
    writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..178")
    await writer.drain()
    size = struct.unpack(">I", await reader.readexactly(4))[0]
    version, _when, _ = (await reader.readexactly(size)).split(b"\0")
    assert version == b"178"
    writer.write(struct.pack(">I", 64 * 1024 * 1024))
    await writer.drain()
    assert await reader.read() == b""
    writer.close()


async def test_second_client_with_same_id_is_refused(ib_gateway):
    import pytest

    first = await _connect(ib_gateway, client_id=5)
    try:
        with pytest.raises((ConnectionError, TimeoutError)):
            await _connect(ib_gateway, client_id=5, timeout=0.3)
        assert first.isConnected()
    finally:
        first.disconnect()


async def test_malformed_request_gets_error_320_and_the_session_survives(ib_gateway):
    import struct

    from ml4t_live_testing.ib.wire import frame

    reader, writer = await _raw(ib_gateway)
    writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..178")
    writer.write(frame([71, 2, 9, ""]))  # startApi
    writer.write(frame(["not-a-number", 1]))
    writer.write(frame([49, 1]))  # reqCurrentTime still answered afterwards
    await writer.drain()
    seen = []
    while not seen or seen[-1][0] != "49":
        size = struct.unpack(">I", await reader.readexactly(4))[0]
        seen.append((await reader.readexactly(size)).decode().split("\0")[:-1])
    assert seen[-2][:4] == ["4", "2", "-1", "320"]
    writer.close()
