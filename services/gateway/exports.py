"""The monthly summary and the ledger (台账) as CSV and XLSX, written as they stream in.

No database here: the front door feeds these functions batches fetched from reporting over RPC,
so a ledger of millions of rows never sits in memory (CSV goes out line by line; XLSX uses
openpyxl's write-only workbook, which keeps rows in a temporary file, not in memory).
"""

import csv
import io
from collections.abc import Iterable, Iterator

from openpyxl import Workbook

from services.common.vocabulary import (
    APPLICANT_KIND_LABELS,
    CAUSE_LABELS,
    CHANNEL_LABELS,
    OUTCOME_LABELS,
    STATE_LABELS,
    TYPE_LABELS,
    label,
)

# (field of a ledger row, column heading)
LEDGER_COLUMNS = (
    ("case_no", "事项编号"),
    ("site", "受理场所"),
    ("window_code", "窗口"),
    ("matter", "事项"),
    ("department", "部门"),
    ("channel", "渠道"),
    ("applicant_kind", "申请人类型"),
    ("id_number_masked", "证件号码（脱敏）"),
    ("first_receiver", "首接负责人"),
    ("type", "类型"),
    ("complex", "复杂事项"),
    ("reason", "原因"),
    ("finding_cause", "问责原因"),
    ("state", "状态"),
    ("received_at", "受理时间"),
    ("classified_at", "分类时间"),
    ("explained_at", "说明时间"),
    ("replied_at", "答复时间"),
    ("reply_due_at", "答复期限"),
    ("reply_on_time", "按时答复"),
    ("working_days_taken", "答复用时（工作日）"),
    ("resolved_at", "办结时间"),
    ("outcome", "办结结果"),
    ("closed_at", "关闭时间"),
    ("archived_at", "归档时间"),
    ("meeting_id", "联席会议"),
    ("deadlines", "期限"),
)
# ledger fields whose codes are shown in the vocabulary's words
LABELLED = {
    "type": TYPE_LABELS,
    "channel": CHANNEL_LABELS,
    "applicant_kind": APPLICANT_KIND_LABELS,
    "finding_cause": CAUSE_LABELS,
    "state": STATE_LABELS,
    "outcome": OUTCOME_LABELS,
}
BOM = "\ufeff"  # so that Excel opens the UTF-8 CSV as UTF-8
# the summary's headline figures compared with the previous month, in the words of its tables
CHANGE_LABELS = {
    "cases": "咨询及登记事项（件）",
    "complex_cases": "复杂事项（件）",
    "complex_solved": "复杂事项已办结（件）",
    "replies": "答复（件）",
    "on_time_rate": "按时答复率",
    "median_working_days": "答复用时中位数（工作日）",
    "p90_working_days": "答复用时90分位（工作日）",
    "ratings": "好差评（条）",
    "satisfied_share": "满意率",
    # the 差评 loop's (reporting's bad_rating_figures)
    "rectification_rate": "差评整改率",
    "return_visit_rate": "回访率",
}


# a cell starting with one of these is a formula to Excel, LibreOffice and Sheets (CSV and
# XLSX alike; tab and CR start one after a separator): free text must not become one
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value):
    """``value`` as a spreadsheet shows it, never as a formula: text starting with
    :data:`FORMULA_STARTS` gets a leading single quote (OWASP's advice for CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return neutralised(value)


def deadlines_text(deadlines: dict | None) -> str:
    """A case's deadlines in one cell: kind, due time and what happened to each."""
    parts = []
    for deadline_id, deadline in sorted((deadlines or {}).items()):
        flags = [
            label
            for name, label in (
                ("provisional", "临时"),
                ("paused", "已暂停"),
                ("warned", "临近到期"),
                ("breached", "已超期"),
                ("closed", "已结束"),
            )
            if deadline.get(name)
        ]
        text = f"{deadline.get('kind') or deadline_id} {deadline.get('due_at') or ''}".strip()
        parts.append(text + (f"（{'、'.join(flags)}）" if flags else ""))
    return "；".join(parts)


def ledger_cells(row: dict) -> list:
    cells = []
    for name, _heading in LEDGER_COLUMNS:
        if name == "deadlines":
            cells.append(neutralised(deadlines_text(row.get("deadlines"))))
        elif name in LABELLED:
            cells.append(neutralised(label(LABELLED[name], row.get(name))))
        else:
            cells.append(_cell(row.get(name)))
    return cells


def _csv_line(cells: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


def ledger_csv(batches: Iterable[list[dict]]) -> Iterator[bytes]:
    """The ledger as UTF-8 CSV, one chunk per batch (a generator for a streamed response)."""
    yield (BOM + _csv_line([heading for _name, heading in LEDGER_COLUMNS])).encode("utf-8")
    for batch in batches:
        if batch:
            yield "".join(_csv_line(ledger_cells(row)) for row in batch).encode("utf-8")


def write_ledger_xlsx(batches: Iterable[list[dict]], target) -> int:
    """Write the ledger to ``target`` (a path or a binary file); returns the number of cases."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("台账")
    sheet.append([heading for _name, heading in LEDGER_COLUMNS])
    count = 0
    for batch in batches:
        for row in batch:
            sheet.append(ledger_cells(row))
            count += 1
    workbook.save(target)
    return count


# --------------------------------------------------------------------------- the summary


def summary_tables(summary: dict, names: dict | None = None) -> list[tuple[str, list, list]]:
    """The summary as titled tables (title, headings, rows), shared by CSV, XLSX and the page.

    ``names`` optionally maps codes (sites, matters, departments) to their Chinese names.
    """
    names = names or {}

    def name(code):
        return names.get(code, code)

    totals, replies = summary["totals"], summary["replies"]
    satisfaction, headline = summary["satisfaction"], summary["headline"]
    return [
        (
            "总体情况",
            ["指标", "数值"],
            [
                ["月份", summary["month"]],
                ["受理场所", name(summary["site"]) if summary["site"] else "全部"],
                ["咨询及登记事项（件）", headline["consultations"]],
                ["复杂事项（件）", headline["complex_cases"]],
                ["复杂事项已办结（件）", headline["complex_solved"]],
                ["答复（件）", replies["total"]],
                ["按时答复（件）", replies["on_time"]],
                ["按时答复率", replies["on_time_rate"]],
                ["答复用时中位数（工作日）", replies["median_working_days"]],
                ["答复用时90分位（工作日）", replies["p90_working_days"]],
                ["好差评（条）", satisfaction["total"]],
                ["满意率", satisfaction["satisfied_share"]],
            ],
        ),
        (
            "按类型",
            ["类型", "件数"],
            [[label(TYPE_LABELS, t), n] for t, n in totals["by_type"].items()],
        ),
        ("按场所", ["场所", "件数"], [[name(k), n] for k, n in totals["by_site"].items()]),
        (
            "按渠道",
            ["渠道", "件数"],
            [[label(CHANNEL_LABELS, k), n] for k, n in totals["by_channel"].items()],
        ),
        ("按部门", ["部门", "件数"], [[name(k), n] for k, n in totals["by_department"].items()]),
        (
            "事项排行",
            ["事项", "件数", "占比"],
            [
                [name(item["matter"]), item["count"], item["share"]]
                for item in summary["top_matters"]
            ],
        ),
        (
            "窗口排行",
            ["场所", "窗口", "件数", "占比"],
            [
                [name(item["site"]), item["window"], item["count"], item["share"]]
                for item in summary["top_windows"]
            ],
        ),
        (
            "情形排行（类型×原因）",
            ["类型", "原因", "件数", "占已分类比例"],
            [
                [item["type_name"], item["cause"], item["count"], item["share"]]
                for item in summary["top_situations"]
            ],
        ),
        (
            "满意度",
            ["评价", "条数"],
            [[f"{item['level']} {item['name']}", item["count"]] for item in satisfaction["levels"]],
        ),
        (
            "差评办理（核实·整改·回访·再评价）",
            ["指标", "数值"],
            bad_rating_rows(summary.get("bad_ratings") or {}),
        ),
        (
            f"与上月（{summary['previous_month']}）比较",
            ["指标", "本月", "上月", "变化"],
            [
                [label(CHANGE_LABELS, key), change["current"], change["previous"], change["delta"]]
                for key, change in summary["change"].items()
            ],
        ),
    ]


# the monthly summary's 差评 loop figures (reporting's bad_rating_figures), as the table shows them
BAD_RATING_ROWS = (
    ("genuine", "核实属实（件）"),
    ("not_genuine", "核实不属实（件）"),
    ("appealed", "被评价人申诉（件）"),
    ("appeals_upheld", "申诉成立（件）"),
    ("rectification_due", "本月到期应整改（件）"),
    ("rectified_on_time", "按期整改（件）"),
    ("rectified_late", "超期整改（件）"),
    ("rectification_rate", "差评整改率"),
    ("return_visits_required", "实名差评应回访（件）"),
    ("return_visits_done", "已回访（件）"),
    ("return_visit_rate", "回访率"),
    ("re_ratings", "再评价（条）"),
    ("re_rating_average", "再评价平均等级"),
    ("re_ratings_improved", "再评价提升（条）"),
    ("re_rating_improved_share", "再评价提升占比"),
)


def bad_rating_rows(figures: dict) -> list[list]:
    return [[heading, figures.get(key)] for key, heading in BAD_RATING_ROWS]


def summary_csv(summary: dict, names: dict | None = None) -> str:
    """The summary as one CSV: each table after its title line, a blank line between."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    for title, headings, rows in summary_tables(summary, names):
        writer.writerow([title])
        writer.writerow(headings)
        writer.writerows([[_cell(value) for value in row] for row in rows])
        writer.writerow([])
    return buffer.getvalue()


def write_summary_xlsx(summary: dict, target, names: dict | None = None) -> None:
    """The summary as a workbook: one sheet per table."""
    workbook = Workbook(write_only=True)
    for title, headings, rows in summary_tables(summary, names):
        sheet = workbook.create_sheet(title[:31].replace("×", "x"))
        sheet.append(headings)
        for row in rows:
            sheet.append([_cell(value) for value in row])
    workbook.save(target)


def bars(items: list[tuple[str, int]], width: int = 360) -> list[dict]:
    """Bar lengths for an SVG bar chart (the longest bar is ``width`` pixels)."""
    longest = max((count for _label, count in items), default=0)
    return [
        {"label": label, "count": count, "length": round(width * count / longest) if longest else 0}
        for label, count in items
    ]
