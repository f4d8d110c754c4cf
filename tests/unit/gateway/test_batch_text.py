"""The ratings batch crosses the front door as text (issue 16): what the text search lets
through, value-by-value checking would have let through too; what it stops is checked that way."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.errors import InvalidField
from services.gateway.validation import check_body, json_text_passes

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec="utf-8"), max_size=12)
    | st.text(st.characters(min_codepoint=0, max_codepoint=0xA0), max_size=6)
)
bodies = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=12,
    ),
    max_size=5,
)


def refused(body) -> bool:
    try:
        check_body(body)
    except InvalidField:
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(bodies, st.booleans())
def test_a_text_that_passes_holds_nothing_the_front_door_refuses(body, ascii_only):
    raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    if json_text_passes(raw):
        assert not refused(json.loads(raw))


def rating(**fields) -> dict:
    return {
        "channel": "rating",
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "level": 5,
        **fields,
    }


def test_an_ordinary_batch_passes_as_text():
    batch = {"ratings": [rating(text="办事体验评价", staff="S0001")] * 500}
    assert json_text_passes(json.dumps(batch, ensure_ascii=False).encode())
    assert json_text_passes(json.dumps(batch).encode())  # \\u escapes of Chinese text too


@pytest.mark.parametrize(
    "text",
    [
        '{"ratings": [{"text": "a\\u0000b"}]}',  # an escaped NUL
        '{"ratings": [{"text": "a\\bb"}]}',  # backspace, as JSON's own escape
        '{"ratings": [{"text": "\\ud800"}]}',  # a lone surrogate
        '{"ratings": [{"text": "\u0085"}]}',  # a C1 control as such
        '{"ratings": [{"level": 1e400}]}',
        '{"ratings": [{"level": 123456789012345678}]}',
        '{"ratings": [{"level": NaN}]}',
    ],
)
def test_what_check_body_refuses_is_not_let_through(text):
    assert not json_text_passes(text.encode())
    assert refused(json.loads(text))


def test_a_harmless_look_alike_is_only_checked_the_slow_way():
    text = '{"ratings": [{"text": "NaN 与 Infinity\\t都不是问题"}]}'
    assert not json_text_passes(text.encode()) and not refused(json.loads(text))
