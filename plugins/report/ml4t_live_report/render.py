"""The report page: one self-contained HTML file (inline SVG and CSS, no scripts, no fetches).

Written by hand with `html.escape` rather than a template engine: one page, a few tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from ml4t_live_report.charts import equity_figure, positions_figure, to_png, to_svg
from ml4t_live_report.session import OrderRow, Session

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.rejected td{background:#fdecea}.summary td{border:none;padding:2px 12px 2px 0}
figure{margin:0}figure svg{width:100%;height:auto}
"""


@dataclass(frozen=True, slots=True)
class ReportFiles:
    html: Path
    equity_png: Path


def write_report(
    session: Session, out: Path, *, title: str = "ml4t-live session report"
) -> ReportFiles:
    """Write `out` (HTML) and `<out stem>-equity.png` beside it; return both paths."""
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_name(f"{out.stem}-equity.png")
    png.write_bytes(to_png(equity_figure(session)))
    out.write_text(render_html(session, title=title), encoding="utf-8")
    return ReportFiles(out, png)


def render_html(session: Session, *, title: str) -> str:
    equity_svg = to_svg(equity_figure(session))
    positions_svg = to_svg(positions_figure(session))
    return "\n".join(
        [
            "<!doctype html>",
            "<html lang='en'><head><meta charset='utf-8'>",
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            _summary(session),
            "<h2>Equity and drawdown</h2>",
            f"<figure id='equity-chart'>{equity_svg}</figure>",
            "<h2>Positions over time</h2>",
            f"<figure id='positions-chart'>{positions_svg}</figure>",
            "<h2>Rejections by check</h2>",
            _rejection_table(session),
            "<h2>Trading-state changes</h2>",
            _state_table(session),
            "<h2>Orders</h2>",
            _order_table(session.orders),
            "</body></html>",
        ]
    )


def _summary(session: Session) -> str:
    first = session.marks[0][1] if session.marks else None
    last = session.marks[-1][1] if session.marks else None
    worst = min((d for _, d in session.drawdown), default=0.0)
    rows = [
        ("mode", "shadow (virtual portfolio)" if session.shadow else "broker"),
        ("from", str(session.start or "—")),
        ("to", str(session.end or "—")),
        ("equity", f"{_money(first)} → {_money(last)}"),
        ("max drawdown", f"{100 * worst:.2f}%"),
        ("orders", str(len(session.orders))),
        ("filled", str(sum(1 for o in session.orders if o.status == "filled"))),
        ("rejected", str(sum(1 for o in session.orders if o.status == "rejected"))),
    ]
    cells = "".join(f"<tr><td>{escape(k)}</td><td><b>{escape(v)}</b></td></tr>" for k, v in rows)
    return f"<table class='summary'>{cells}</table>"


def _rejection_table(session: Session) -> str:
    if not session.rejections_by_check:
        return "<p>No order was rejected.</p>"
    rows = "".join(
        f"<tr><td>{escape(check)}</td><td class='num'>{count}</td></tr>"
        for check, count in session.rejections_by_check.most_common()
    )
    return f"<table id='rejections'><tr><th>check</th><th>rejections</th></tr>{rows}</table>"


def _state_table(session: Session) -> str:
    if not session.trading_states:
        return "<p>Trading stayed ACTIVE.</p>"
    rows = "".join(
        f"<tr><td>{escape(str(t))}</td><td>{escape(s.upper())}</td><td>{escape(r)}</td></tr>"
        for t, s, r in session.trading_states
    )
    return f"<table><tr><th>time</th><th>state</th><th>reason</th></tr>{rows}</table>"


def _order_table(orders: list[OrderRow]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "id",
            "submitted",
            "asset",
            "side",
            "qty",
            "type",
            "limit",
            "stop",
            "status",
            "filled",
            "avg price",
            "reasons",
        )
    )
    body = []
    for o in orders:
        cells = [
            escape(o.client_order_id),
            escape(str(o.submitted_at)),
            escape(o.asset),
            escape(o.side),
            f"{o.quantity:g}",
            escape(o.order_type),
            _money(o.limit_price),
            _money(o.stop_price),
            escape(o.status),
            f"{o.filled_quantity:g}",
            _money(o.average_price),
            escape("; ".join(o.reasons)),
        ]
        css = " class='rejected'" if o.status == "rejected" else ""
        body.append(
            f"<tr{css}>"
            + "".join(
                f"<td class='num'>{c}</td>" if i in (4, 6, 7, 9, 10) else f"<td>{c}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    return f"<table id='orders'><tr>{head}</tr>{''.join(body)}</table>"


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"
