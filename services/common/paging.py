"""One paging rule for every list a service returns (DESIGN §8: lists take ``limit``/``cursor``).

* ``limit`` is a whole number, at least 1; absent, the page holds ``default`` items; above
  ``maximum`` it is cut down to ``maximum`` (a client asking for more gets fewer per page and
  a cursor to the rest, never an error).
* A list is paged by keyset, not offset: ``cursor`` is the key of the previous page's last
  item (an id or a sequence number), and the next page starts after it. ``next_cursor`` is
  given only when the page came back full, so an empty or short page ends the list.

Pure: no I/O. A store applies the key in its SQL (``id < %(after)s`` or ``seq > %(after)s``).
"""

from collections.abc import Mapping, Sequence

from services.common.errors import InvalidField

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
BIGINT_MAX = 2**63 - 1  # a key is a PostgreSQL bigint


def _whole_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    return None


def limit_from(value, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """The page size a request's ``limit`` asks for (an int or its text), within the rule."""
    if value in (None, ""):
        return min(default, maximum)
    number = _whole_number(value)
    if number is None or number < 1:
        raise InvalidField(f"limit 应为 1 到 {maximum} 的整数", "limit")
    return min(number, maximum)


def keyset_after(cursor) -> int | None:
    """The key a page starts after: None for the first page, else the previous page's
    ``next_cursor`` (an int or its text)."""
    if cursor in (None, ""):
        return None
    number = _whole_number(cursor)
    if number is None or not 0 <= number <= BIGINT_MAX:
        raise InvalidField("cursor 应为上一页返回的 next_cursor（整数）", "cursor")
    return number


def page(items: Sequence[Mapping], limit: int, key: str) -> dict:
    """A list's answer: its items and the cursor to the next page (None on the last page)."""
    full = len(items) == limit and len(items) > 0
    return {"items": list(items), "next_cursor": str(items[-1][key]) if full else None}
