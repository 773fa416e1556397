"""Memory the IB adapter keeps per order, over a real socket to the TWS-protocol simulator.

    uv run python benchmarks/bench_adapter_memory.py [--orders 1000] [--limit 100]

Each order is a limit order sent, acknowledged and filled. Memory is the Python heap traced by
tracemalloc, counting only allocations made with the adapter or ib_async on the stack (the
simulator runs in the same process and keeps every order; its memory is left out). Figures:
heap after the first `2 × limit` orders (the finished-order window is full) and after all of
them, with `finished_order_limit = limit` and, for comparison, with a limit above the order
count (nothing forgotten: what the adapter kept per order before it was bounded).
Target: ≤ 10 % growth from the first point to the last with the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import tracemalloc

from harness import report
from ml4t.backtest import Order, OrderSide, OrderType
from ml4t_live_ib.broker import IBBroker
from ml4t_live_ib.config import IBConfig
from ml4t_live_testing.ib import IBGatewaySimulator

from ml4t_live_core.protocols import FillEvent

ADAPTER = [
    tracemalloc.Filter(True, "*/ml4t_live_ib/*", all_frames=True),
    tracemalloc.Filter(True, "*/ib_async/*", all_frames=True),
]


def adapter_heap() -> int:
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(ADAPTER)
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def run(orders: int, limit: int) -> dict[str, float]:
    gateway = IBGatewaySimulator()
    await gateway.start()
    broker = IBBroker(
        IBConfig(port=gateway.port, client_id=3, ack_timeout=5.0, finished_order_limit=limit)
    )
    filled = asyncio.Event()
    broker.subscribe(lambda e: filled.set() if isinstance(e, FillEvent) else None)
    broker.ib.client.MaxRequests = 0  # no client pacing: a burst, as in bench_ib.py
    await broker.connect()
    warm = min(2 * limit, orders // 2)
    try:
        heap_at: dict[int, int] = {}
        for i in range(orders):
            order = Order(
                asset="AAPL",
                side=OrderSide.BUY,
                quantity=10,
                order_type=OrderType.LIMIT,
                limit_price=100.0,
                order_id=f"mem-{i}",
            )
            filled.clear()
            await broker.submit_order(order)
            gateway.fill(order.order_id, price=100.0)
            await asyncio.wait_for(filled.wait(), 5)
            if i + 1 in (warm, orders):
                await asyncio.sleep(2.5)  # the commission fallback timers have run out
                heap_at[i + 1] = adapter_heap()
        sizes = broker.tracker.sizes()
        return {
            "orders": orders,
            "finished_order_limit": limit,
            f"heap_after_{warm}_kb": round(heap_at[warm] / 1024, 1),
            f"heap_after_{orders}_kb": round(heap_at[orders] / 1024, 1),
            "growth_ratio": round(heap_at[orders] / heap_at[warm], 3),
            "bytes_per_order_after_warm": round(
                (heap_at[orders] - heap_at[warm]) / (orders - warm)
            ),
            "tracked_orders": sizes["orders"],
            "ib_async_trades": len(broker.ib.wrapper.trades),
            "ib_async_fills": len(broker.ib.wrapper.fills),
        }
    finally:
        await broker.disconnect()
        await gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # ib_async logs every trade at INFO
    tracemalloc.start(25)
    bounded = asyncio.run(run(args.orders, args.limit))
    unbounded = asyncio.run(run(args.orders, args.orders + 1))
    tracemalloc.stop()
    report(
        "adapter_memory",
        {"bounded": bounded, "unbounded": unbounded},
        {"growth_within_10_percent": bounded["growth_ratio"] <= 1.10},
    )


if __name__ == "__main__":
    main()
