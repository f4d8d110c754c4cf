"""The monthly page's 12-month trend as an inline SVG's geometry (pure: no I/O, no JavaScript).

Cases are bars on the left axis, whose top is a round number (1, 2 or 5 × 10ⁿ per quarter) at or
above the busiest month; the on-time rate and the satisfied share are lines on the right axis,
0–100 %. A month without replies (or ratings) has no rate: its line breaks there instead of
dropping to zero. The template draws what :func:`trend_chart` computes, and a table of the same
numbers stands beside it for screen readers and print.
"""

import math

from services.gateway.report_page import percent

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 20, 48
TICKS = 4  # intervals on each axis
BAR_SHARE = 0.6  # of a month's slot
RATES = ("on_time_rate", "satisfied_share")


def axis_top(largest: int) -> int:
    """The left axis's top: :data:`TICKS` steps of 1, 2 or 5 × 10ⁿ reaching ``largest``."""
    if largest <= 0:
        return TICKS
    raw = largest / TICKS
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return int(step * TICKS) if step >= 1 else TICKS


def _round(value: float) -> float:
    return round(value, 1)


def trend_chart(trend: list[dict]) -> dict:
    """The chart's geometry for ``trend`` (reporting's monthly_trend, oldest month first)."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_height
    slot = plot_width / max(len(trend), 1)
    top_cases = axis_top(max((point["cases"] for point in trend), default=0))

    def case_y(count: int) -> float:
        return _round(bottom - plot_height * count / top_cases)

    def rate_y(share: float) -> float:
        return _round(bottom - plot_height * share)

    bars, points, lines = [], {name: [] for name in RATES}, {name: [] for name in RATES}
    for index, point in enumerate(trend):
        year, month = (int(part) for part in point["month"].split("-"))
        center = LEFT + slot * (index + 0.5)
        bars.append(
            {
                "x": _round(center - slot * BAR_SHARE / 2),
                "y": case_y(point["cases"]),
                "width": _round(slot * BAR_SHARE),
                "height": _round(bottom - case_y(point["cases"])),
                "center": _round(center),
                "cases": point["cases"],
                "label": f"{month}月",
                "year": f"{year}年" if index == 0 or month == 1 else "",
            }
        )
        for name in RATES:
            share = point[name]
            if share is None:
                lines[name].append([])  # the line breaks at a month without a rate
                continue
            xy = {"x": _round(center), "y": rate_y(share), "label": percent(share)}
            points[name].append(xy)
            if not lines[name]:
                lines[name].append([])
            lines[name][-1].append(f"{xy['x']},{xy['y']}")
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "plot": {"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": bottom},
        "bars": bars,
        "case_ticks": [
            {"y": case_y(top_cases * i // TICKS), "label": str(top_cases * i // TICKS)}
            for i in range(TICKS + 1)
        ],
        "rate_ticks": [
            {"y": rate_y(i / TICKS), "label": f"{100 * i // TICKS} %"} for i in range(TICKS + 1)
        ],
        "points": points,
        # each unbroken run of months as a polyline's points (runs of one month show as a dot)
        "lines": {
            name: [" ".join(run) for run in runs if len(run) > 1] for name, runs in lines.items()
        },
    }
