"""How the monthly page shows the summary's tables to a director (pure): shares as percentages
(``12.5 %``), a change of a rate in percentage points, every label in Chinese.

The tables are :func:`services.gateway.exports.summary_tables`' (the CSV and the workbook keep
their numbers as numbers); the page passes them through :func:`page_tables`. A cell holds a
share when its column is a share (``占比``, ``比例``), or it is the value of a row whose label
names a rate (``…率``, ``…占比``); in the comparison with the previous month such a row's
current and previous values are percentages and its change is in percentage points.
"""

SHARE_COLUMNS = ("占比", "比例")
RATE_ENDINGS = ("率", "占比")
CHANGE_HEADING = "变化"


def percent(share, digits: int = 1) -> str:
    """A share (0..1) as people read it: ``0.125`` → ``12.5 %``; None → ``—``."""
    if share is None:
        return "—"
    return f"{share * 100:.{digits}f} %"


def points(delta) -> str:
    """A change of a share in percentage points: ``0.025`` → ``+2.5 个百分点``."""
    if delta is None:
        return "—"
    return f"{delta * 100:+.1f} 个百分点"


def _is_rate(row_label) -> bool:
    return isinstance(row_label, str) and row_label.endswith(RATE_ENDINGS)


def _shown(value, heading: str, row_label) -> object:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    if any(word in heading for word in SHARE_COLUMNS):
        return percent(value)
    if _is_rate(row_label):
        return points(value) if heading == CHANGE_HEADING else percent(value)
    return value


def page_tables(tables: list[tuple[str, list, list]]) -> list[tuple[str, list, list]]:
    """The tables with each share as a percentage and each rate's change in points."""
    shown = []
    for title, headings, rows in tables:
        shown.append(
            (
                title,
                headings,
                [
                    [row[0]]
                    + [
                        _shown(value, heading, row[0])
                        for value, heading in zip(row[1:], headings[1:], strict=False)
                    ]
                    for row in rows
                ],
            )
        )
    return shown
