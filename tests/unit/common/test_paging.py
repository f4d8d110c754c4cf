"""The one paging rule: a limit within bounds, a keyset cursor, a next cursor only on full pages."""

import pytest

from services.common import paging
from services.common.errors import InvalidField


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 50), ("", 50), (1, 1), ("20", 20), (200, 200), ("500", 200), (10**6, 200)],
)
def test_a_limit_defaults_to_fifty_and_is_cut_down_to_the_maximum(value, expected):
    assert paging.limit_from(value) == expected


def test_a_service_may_choose_its_own_default_and_maximum():
    assert paging.limit_from(None, default=20) == 20
    assert paging.limit_from("900", maximum=500) == 500
    assert paging.limit_from(None, default=100, maximum=10) == 10


@pytest.mark.parametrize("value", [0, -1, "0", "-3", "2.5", 2.5, "ten", True, [], "٣", "9" * 30])
def test_a_limit_that_is_not_a_whole_number_from_one_is_refused_naming_the_field(value):
    with pytest.raises(InvalidField) as error:
        paging.limit_from(value)
    assert error.value.field == "limit"


@pytest.mark.parametrize(("cursor", "expected"), [(None, None), ("", None), ("42", 42), (7, 7)])
def test_a_cursor_is_the_key_a_page_starts_after(cursor, expected):
    assert paging.keyset_after(cursor) == expected


@pytest.mark.parametrize("cursor", ["-1", -1, "abc", "1.0", False, str(2**63), 2**63])
def test_a_cursor_that_is_no_key_is_refused_naming_the_field(cursor):
    with pytest.raises(InvalidField) as error:
        paging.keyset_after(cursor)
    assert error.value.field == "cursor"


def test_only_a_full_page_has_a_next_cursor():
    rows = [{"id": 9}, {"id": 7}, {"id": 4}]
    assert paging.page(rows, 3, "id") == {"items": rows, "next_cursor": "4"}
    assert paging.page(rows[:2], 3, "id") == {"items": rows[:2], "next_cursor": None}
    assert paging.page([], 3, "id") == {"items": [], "next_cursor": None}
