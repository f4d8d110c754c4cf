"""The monthly page a director reads (pure parts): the trend chart's scale, shares shown as
percentages, a rate's change in percentage points, the comparison table in Chinese."""

import re

import pytest

from services.gateway import exports, report_page, trend_chart


def point(month: str, cases: int = 0, on_time=None, satisfied=None) -> dict:
    return {"month": month, "cases": cases, "on_time_rate": on_time, "satisfied_share": satisfied}


@pytest.mark.parametrize(
    ("share", "shown"),
    [(0.125, "12.5 %"), (1.0, "100.0 %"), (0.0, "0.0 %"), (None, "—"), (0.33333, "33.3 %")],
)
def test_a_share_reads_as_a_percentage(share, shown):
    assert report_page.percent(share) == shown


def test_a_rates_change_is_in_percentage_points():
    assert report_page.points(0.025) == "+2.5 个百分点"
    assert report_page.points(-0.1) == "-10.0 个百分点"
    assert report_page.points(None) == "—"


@pytest.mark.parametrize(
    ("largest", "top"), [(0, 4), (1, 4), (3, 4), (5, 8), (9, 20), (37, 40), (41, 80), (1234, 2000)]
)
def test_the_case_axis_tops_at_a_round_number_at_or_above_the_busiest_month(largest, top):
    assert trend_chart.axis_top(largest) == top
    assert trend_chart.axis_top(largest) >= largest


def test_the_bars_and_lines_are_scaled_to_their_axes():
    chart = trend_chart.trend_chart(
        [point("2026-01", 40, 1.0, 0.5), point("2026-02", 20, 0.0, None), point("2026-03", 0)]
    )
    plot = chart["plot"]
    height = plot["bottom"] - plot["top"]
    busiest, half, empty = chart["bars"]
    assert busiest["y"] == plot["top"] and busiest["height"] == height  # 40 of an axis to 40
    assert half["height"] == pytest.approx(height / 2, abs=0.1)
    assert empty["height"] == 0 and empty["y"] == plot["bottom"]
    assert [bar["label"] for bar in chart["bars"]] == ["1月", "2月", "3月"]
    assert [bar["year"] for bar in chart["bars"]] == ["2026年", "", ""]
    on_time = chart["points"]["on_time_rate"]
    assert [p["y"] for p in on_time] == [plot["top"], plot["bottom"]]  # 100 % and 0 %
    assert [p["label"] for p in on_time] == ["100.0 %", "0.0 %"]
    # a month with no rate breaks the line: March has no replies, February no ratings
    assert len(chart["lines"]["on_time_rate"]) == 1
    assert chart["lines"]["satisfied_share"] == []  # a single month is a dot, not a line
    assert [p["y"] for p in chart["points"]["satisfied_share"]] == [plot["top"] + height / 2]
    assert [t["label"] for t in chart["case_ticks"]] == ["0", "10", "20", "30", "40"]
    assert [t["label"] for t in chart["rate_ticks"]] == ["0 %", "25 %", "50 %", "75 %", "100 %"]
    for bar in chart["bars"]:  # every bar inside the plot
        assert plot["left"] <= bar["x"] and bar["x"] + bar["width"] <= plot["right"]


def test_a_gap_splits_a_line_into_runs():
    chart = trend_chart.trend_chart(
        [
            point("2025-11", 1, 0.5),
            point("2025-12", 1, 0.6),
            point("2026-01", 1),
            point("2026-02", 1, 0.7),
            point("2026-03", 1, 0.8),
        ]
    )
    assert len(chart["lines"]["on_time_rate"]) == 2
    assert [bar["year"] for bar in chart["bars"]] == ["2025年", "", "2026年", "", ""]


def summary(**change) -> dict:
    names = ("cases", "complex_cases", "complex_solved", "replies", "on_time_rate", "median_working_days", "p90_working_days", "ratings", "satisfied_share")  # fmt: skip
    empty = {"current": None, "previous": None, "delta": None}
    return {
        "month": "2026-05",
        "site": None,
        "previous_month": "2026-04",
        "totals": {"cases": 8, "by_type": {"cannot": 1}, "by_site": {"HALL": 8}, "by_channel": {}, "by_department": {}},
        "top_matters": [{"matter": "M001", "count": 1, "share": 0.125}],
        "top_windows": [{"site": "HALL", "window": "W01", "count": 8, "share": 1.0}],
        "top_situations": [{"type": "cannot", "type_name": "不能办", "cause": "缺少关键材料", "count": 1, "share": 1.0}],
        "replies": {"total": 4, "on_time": 3, "late": 1, "on_time_rate": 0.75, "median_working_days": 2, "p90_working_days": 3},
        "satisfaction": {"levels": [], "total": 0, "satisfied_share": None},
        "headline": {"consultations": 8, "complex_cases": 0, "complex_solved": 0},
        "change": {name: change.get(name, empty) for name in names},
    }  # fmt: skip


def test_the_page_tables_show_shares_as_percentages_and_every_label_in_chinese():
    rate = {"current": 0.75, "previous": 0.5, "delta": 0.25}
    days = {"current": 2, "previous": 1, "delta": 1.0}
    names = {"HALL": "玄武区政务服务中心", "M001": "企业开办"}
    tables = exports.summary_tables(summary(on_time_rate=rate, median_working_days=days), names)
    shown = {title: rows for title, _headings, rows in report_page.page_tables(tables)}
    overall = dict(shown["总体情况"])
    assert overall["按时答复率"] == "75.0 %" and overall["答复（件）"] == 4
    assert shown["事项排行"] == [["企业开办", 1, "12.5 %"]]
    assert shown["情形排行（类型×原因）"][0][-1] == "100.0 %"
    change = {row[0]: row[1:] for row in shown["与上月（2026-04）比较"]}
    assert change["按时答复率"] == ["75.0 %", "50.0 %", "+25.0 个百分点"]
    assert change["答复用时中位数（工作日）"] == [2, 1, 1.0], "days stay days"
    assert "满意率" in change
    for _title, headings, rows in report_page.page_tables(tables):
        for cell in [*headings, *(row[0] for row in rows)]:
            assert not re.search(r"[A-Za-z]{2,}", str(cell)), cell
    # the exports keep numbers as numbers
    assert dict(tables[0][2])["按时答复率"] == 0.75
