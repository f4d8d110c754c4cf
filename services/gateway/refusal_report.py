"""The 否定答复 report (every `cannot` answer of a month) as titled tables, CSV and XLSX.

One builder, :func:`report_tables`, gives the tables the printable page, the CSV and the
workbook all show, so the three cannot disagree: the month's totals, the counts by department
and by matter (each with its 合计 row, equal to the totals) and every answer with its basis,
explanation, missing key materials and the approval bureau's review. Free text is neutralised
against spreadsheet formulas as in the other exports (:func:`services.gateway.exports.neutralised`).
"""

import csv
import io

from openpyxl import Workbook

from services.common.vocabulary import REVIEW_RESULT_LABELS, STATE_LABELS, label
from services.gateway.exports import BOM, neutralised
from services.gateway.pages.common import local_time

COUNT_HEADINGS = ["件数", "维持", "退回重新说明", "待审核"]
COUNT_COLUMNS = ("count", "upheld", "sent_back", "unreviewed")
ITEM_HEADINGS = [
    "事项编号",
    "受理场所",
    "办理事项",
    "责任部门",
    "法律政策依据",
    "解释说明",
    "缺少的关键材料及获取途径",
    "说明人",
    "说明时间",
    "审核结果",
    "审核理由",
    "审核人",
    "审核时间",
    "事项状态",
]


def review_label(result: str | None) -> str:
    return label(REVIEW_RESULT_LABELS, result) if result else "待审核"


def materials_text(materials: list[dict] | None) -> str:
    """The missing key materials in one cell: each with where and how to obtain it."""
    return "；".join(f"{m['name']}（{m['how_to_obtain']}）" for m in materials or [])


def _counts(row: dict) -> list[int]:
    return [row[column] for column in COUNT_COLUMNS]


def report_tables(report: dict, names: dict, staff: dict, tz: str) -> list[tuple[str, list, list]]:
    """The report as (title, headings, rows); ``names`` maps site, department and matter codes
    to their names, ``staff`` staff ids to theirs, times are shown in ``tz``."""

    def name(code):
        return names.get(code, code)

    totals = report["totals"]
    scope = name(report["site"]) if report["site"] else "全部场所"
    if report.get("department"):
        scope += f" · {name(report['department'])}"
    items = [
        [
            item["case_no"],
            name(item["site"]),
            name(item["matter"]),
            name(item["department"]),
            item["legal_basis"],
            item["explanation"],
            materials_text(item["missing_key_materials"]) or "—",
            staff.get(item["explained_by"], item["explained_by"]),
            local_time(item["explained_at"], tz=tz),
            review_label(item["review_result"]),
            item["review_reason"] or "",
            staff.get(item["reviewed_by"], item["reviewed_by"]) or "",
            local_time(item["reviewed_at"], tz=tz),
            label(STATE_LABELS, item.get("state")),
        ]
        for item in report["items"]
    ]
    return [
        (
            "总体情况",
            ["指标", "数值"],
            [
                ["月份", report["month"]],
                ["范围", scope],
                ["“不能办”答复（件）", totals["count"]],
                ["区行政审批局维持（件）", totals["upheld"]],
                ["退回重新说明（件）", totals["sent_back"]],
                ["待审核（件）", totals["unreviewed"]],
            ],
        ),
        (
            "按部门",
            ["责任部门", *COUNT_HEADINGS],
            [[name(row["department"]), *_counts(row)] for row in report["by_department"]]
            + [["合计", *_counts(totals)]],
        ),
        (
            "按事项",
            ["办理事项", *COUNT_HEADINGS],
            [[name(row["matter"]), *_counts(row)] for row in report["by_matter"]]
            + [["合计", *_counts(totals)]],
        ),
        ("逐件明细", ITEM_HEADINGS, items),
    ]


def _cell(value):
    return "" if value is None else neutralised(value)


def report_csv(tables: list[tuple[str, list, list]]) -> str:
    """The tables in one UTF-8 CSV: each after its title line, a blank line between."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    for title, headings, rows in tables:
        writer.writerow([title])
        writer.writerow(headings)
        writer.writerows([[_cell(value) for value in row] for row in rows])
        writer.writerow([])
    return buffer.getvalue()


def write_report_xlsx(tables: list[tuple[str, list, list]], target) -> None:
    """The tables as a workbook, one sheet each."""
    workbook = Workbook(write_only=True)
    for title, headings, rows in tables:
        sheet = workbook.create_sheet(title[:31])
        sheet.append(headings)
        for row in rows:
            sheet.append([_cell(value) for value in row])
    workbook.save(target)
