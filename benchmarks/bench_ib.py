"""IBBroker order path over a real socket to the local TWS-protocol simulator.

    uv run python benchmarks/bench_ib.py [--orders 500]

Figures:
- submit_to_ack: `IBBroker.submit_order` of a limit order until IB's Submitted status is back
  (qualified contract cached): encode, socket, simulator, decode, event, copy.
- fill_to_event: the simulator executes the order until the `FillEvent` reaches the handler.
Throttle: ib_async's 45 msg/s client pacing is switched off for the burst (see below).
Floors, same run: `ib_async.reqCurrentTimeAsync` (one bare request/response to the same
simulator: what any IB round trip costs here), `ib_async_place_to_submitted` (ib_async's own
placeOrder until Submitted, without the adapter: the order path's floor) and the handoff.
The simulator runs in the same process and event loop, so its work is inside every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

import ib_async
from harness import handoff_floor, percentiles, report
from ml4t.backtest import Order, OrderSide, OrderType
from ml4t_live_ib.broker import IBBroker
from ml4t_live_ib.config import IBConfig
from ml4t_live_testing.ib import IBGatewaySimulator

from ml4t_live_core.protocols import FillEvent


async def measure(n: int) -> dict[str, dict[str, float]]:
    gateway = IBGatewaySimulator()
    await gateway.start()
    broker = IBBroker(IBConfig(port=gateway.port, client_id=3, ack_timeout=5.0))
    fills: list[int] = []
    arrived = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, FillEvent):
            fills.append(time.perf_counter_ns())
            arrived.set()

    broker.subscribe(on_event)
    # ib_async's client throttle (45 msg/s, IB's pacing limit) would dominate a burst benchmark:
    # off here, so the figures are the path's own cost; production keeps it on.
    broker.ib.client.MaxRequests = 0
    await broker.connect()
    try:
        await broker.contracts.qualify("AAPL")
        floor, raw, acks, fill_latency = [], [], [], []
        for _ in range(n):
            start = time.perf_counter_ns()
            await broker.ib.reqCurrentTimeAsync()
            floor.append(time.perf_counter_ns() - start)
        contract = await broker.contracts.qualify("AAPL")
        for i in range(n):  # ib_async alone: placeOrder until Submitted (no adapter around it)
            start = time.perf_counter_ns()
            trade = broker.ib.placeOrder(
                contract, ib_async.LimitOrder("BUY", 10, 100.0, orderRef=f"raw-{i}")
            )
            while trade.orderStatus.status != "Submitted":
                await trade.statusEvent
            raw.append(time.perf_counter_ns() - start)
            gateway.fill(f"raw-{i}", price=100.0)
        await broker.ib.reqCurrentTimeAsync()
        for i in range(n):
            order = Order(
                asset="AAPL",
                side=OrderSide.BUY,
                quantity=10,
                order_type=OrderType.LIMIT,
                limit_price=100.0,
                order_id=f"bench-{i}",
            )
            start = time.perf_counter_ns()
            await broker.submit_order(order)
            acks.append(time.perf_counter_ns() - start)
            arrived.clear()
            start = time.perf_counter_ns()
            gateway.fill(order.order_id, price=100.0)
            await asyncio.wait_for(arrived.wait(), 5)
            fill_latency.append(fills[-1] - start)
        return {
            "ib_round_trip_floor": percentiles(floor),
            "ib_async_place_to_submitted": percentiles(raw),
            "submit_to_ack": percentiles(acks),
            "fill_to_event": percentiles(fill_latency),
        }
    finally:
        await broker.disconnect()
        await gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # ib_async logs every trade at INFO
    results = asyncio.run(measure(args.orders))
    results["handoff_floor"] = handoff_floor()
    ratio = results["submit_to_ack"]["p50_us"] / results["ib_round_trip_floor"]["p50_us"]
    results["submit_to_ack_over_floor_p50"] = round(ratio, 2)
    # the adapter's order path against ib_async's own (same socket, same simulator, same run)
    results["submit_to_ack_over_ib_async_p50"] = round(
        results["submit_to_ack"]["p50_us"] / results["ib_async_place_to_submitted"]["p50_us"], 2
    )
    results["fill_to_event_over_floor_p50"] = round(
        results["fill_to_event"]["p50_us"] / results["ib_round_trip_floor"]["p50_us"], 2
    )
    report("ib", results, {"every_fill_arrived": results["fill_to_event"]["n"] == args.orders})


if __name__ == "__main__":
    main()
