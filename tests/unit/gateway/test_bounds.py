"""The front door's bounds (issue 12, item 6): one ``limit`` rule with the services', a ledger
range of at most a year, and exports in which free text never becomes a formula."""

import csv
import io

import pytest
from openpyxl import load_workbook

from services.common import errors, paging
from services.gateway import exports, validation
from services.gateway.api.reporting import MAX_LEDGER_DAYS, check_ledger_range


@pytest.mark.parametrize("raw", ["1", "50", "200", "201", "5000", "9" * 19, "007"])
def test_the_front_doors_limit_is_the_services_limit(raw):
    assert validation.page_limit(raw) == paging.limit_from(raw) <= paging.MAX_LIMIT


@pytest.mark.parametrize(
    "date_from, date_to", [("2026-01-01", "2026-12-31"), ("2024-01-01", "2024-12-31")]
)
def test_a_ledger_range_of_up_to_a_year_is_taken(date_from, date_to):
    check_ledger_range(date_from, date_to)


@pytest.mark.parametrize(
    "date_from, date_to, field",
    [
        ("2025-01-01", "2026-01-02", "to"),  # 367 days
        ("2000-01-01", "2099-12-31", "to"),
        ("2026-02-01", "2026-01-31", "to"),
        ("2026-13-01", "2026-12-31", "from"),
        ("2026-01-01", "tomorrow", "to"),
    ],
)
def test_a_ledger_range_beyond_a_year_or_malformed_is_refused_naming_the_field(
    date_from, date_to, field
):
    with pytest.raises(errors.InvalidField) as error:
        check_ledger_range(date_from, date_to)
    assert error.value.field == field
    assert MAX_LEDGER_DAYS == 366


FORMULAS = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def ledger_row(reason: str) -> dict:
    return {"case_no": "XW-20260301-00001-HALL", "reason": reason, "state": "=1", "type": "hard"}


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_cells_starting_a_formula_get_a_leading_quote(text):
    data = b"".join(exports.ledger_csv([[ledger_row(text)]])).decode("utf-8-sig")
    [_headings, cells] = list(csv.reader(io.StringIO(data)))
    columns = [name for name, _ in exports.LEDGER_COLUMNS]
    assert cells[columns.index("reason")] == "'" + text
    assert cells[columns.index("state")] == "'=1"  # an unknown code shown as given
    assert cells[columns.index("case_no")] == "XW-20260301-00001-HALL"


def test_xlsx_cells_hold_the_quoted_text_not_a_formula(tmp_path):
    target = tmp_path / "ledger.xlsx"
    exports.write_ledger_xlsx([[ledger_row(text) for text in FORMULAS]], target)
    column = [name for name, _ in exports.LEDGER_COLUMNS].index("reason") + 1
    sheet = load_workbook(target).active
    cells = [sheet.cell(row=r, column=column) for r in range(2, 2 + len(FORMULAS))]
    # (openpyxl reads a stored CR back as LF)
    assert [cell.value for cell in cells] == ["'" + t.replace("\r", "\n") for t in FORMULAS]
    assert {cell.data_type for cell in cells} == {"s"}  # text, not "f" (formula)


def test_plain_text_and_numbers_are_left_as_they_are():
    assert exports.neutralised("住所证明不被认可") == "住所证明不被认可"
    assert exports.neutralised(-3) == -3 and exports.neutralised(None) is None
    assert exports.neutralised("a=b") == "a=b"


def test_the_summarys_cells_are_neutralised_too():
    assert exports._cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert exports._cell(True) == "是" and exports._cell(None) == ""
