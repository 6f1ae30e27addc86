"""Charts drawn on the server as SVG: no script, no library, readable without colour (each line
has its own dash) and each one with its table beside it on the page."""

from __future__ import annotations

from decimal import Decimal

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 10, 24


def _nice_ceiling(value: Decimal) -> Decimal:
    """A round top for the axis: 1, 2, 2.5 or 5 times a power of ten, at or above the value."""
    if value <= 0:
        return Decimal(1)
    power = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def line_chart(series: list[tuple[str, list[Decimal]]], labels: list[str], *, money=False) -> dict:
    """Polylines for each (name, values) over the same days, with 4 y-axis ticks and up to 6 day labels.
    A value may be None (a series that starts later or stops earlier): the line skips it."""
    count = max((len(values) for _name, values in series), default=0)
    top = _nice_ceiling(max((v for _name, values in series for v in values if v is not None), default=Decimal(0)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i):
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v):
        return TOP + plot_h - float(v / top) * plot_h

    lines = []
    for n, (name, values) in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None)
        lines.append({"name": name, "points": points, "style": f"series-{n}"})
    ticks = [{"y": round(y(top * k / 4), 1), "value": top * k / 4} for k in range(5)]
    step = max(1, (count + 5) // 6)
    days = [{"x": round(x(i), 1), "label": labels[i]} for i in range(0, count, step)] if labels else []
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "bottom": TOP + plot_h,
            "lines": lines, "ticks": ticks, "days": days, "money": money}  # fmt: skip
