"""Charts of a session with matplotlib: inline SVG for the HTML page, PNG for the equity file."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display here or on a server: render to files only

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ml4t_live_report.session import Session  # noqa: E402

EQUITY_COLOR = "#1f77b4"
DRAWDOWN_COLOR = "#d62728"
#: Positions chart shows the assets traded most; more lines would be unreadable.
MAX_POSITION_LINES = 12


def equity_figure(session: Session) -> Figure:
    """Equity (top) and drawdown (bottom) over the session's marks."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, height_ratios=(3, 1))
    if session.marks:
        times, equity = zip(*session.marks, strict=True)
        top.plot(times, equity, color=EQUITY_COLOR, linewidth=1.6, label="equity")
        dd_times, dd = zip(*session.drawdown, strict=True)
        bottom.fill_between(
            dd_times, [100 * d for d in dd], 0, color=DRAWDOWN_COLOR, alpha=0.35, step="post"
        )
    else:
        top.text(
            0.5,
            0.5,
            "no equity marks in this journal",
            ha="center",
            va="center",
            transform=top.transAxes,
        )
    top.set_ylabel("equity")
    top.set_title("Equity" + (" (shadow portfolio)" if session.shadow else ""))
    top.grid(alpha=0.3)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    _time_axis(bottom)
    fig.tight_layout()
    return fig


def positions_figure(session: Session) -> Figure:
    """Position size per asset over time, as steps at each fill."""
    fig, ax = plt.subplots(figsize=(10, 3.5))
    busiest = sorted(session.positions, key=lambda a: len(session.positions[a]), reverse=True)
    end = session.end
    for asset in busiest[:MAX_POSITION_LINES]:
        steps = session.positions[asset]
        if end is not None and steps[-1][0] < end:  # a position is held until the session ends
            steps = [*steps, (end, steps[-1][1])]
        times, quantities = zip(*steps, strict=True)
        ax.step(times, quantities, where="post", label=asset, linewidth=1.2)
    if not busiest:
        ax.text(
            0.5, 0.5, "no fills in this journal", ha="center", va="center", transform=ax.transAxes
        )
    else:
        ax.legend(loc="upper left", fontsize="small", ncols=min(6, len(busiest)))
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel("quantity")
    ax.set_title(
        "Positions"
        + (
            f" ({MAX_POSITION_LINES} most traded of {len(busiest)})"
            if len(busiest) > MAX_POSITION_LINES
            else ""
        )
    )
    ax.grid(alpha=0.3)
    _time_axis(ax)
    fig.tight_layout()
    return fig


def to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog: the SVG is inlined into HTML


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _time_axis(ax: plt.Axes) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
