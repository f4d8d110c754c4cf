"""What the front door refuses where it enters: characters, numbers, nesting, list parameters."""

import json

import pytest
from werkzeug.test import EnvironBuilder

from services.common import errors
from services.gateway import validation
from services.gateway.http import read_json

MAX_BYTES = 1 << 20


def body_of(raw: str | bytes):
    request = EnvironBuilder(method="POST", path="/api/v1/cases", data=raw).get_request()
    return read_json(request, MAX_BYTES)


def refused(raw: str | bytes) -> errors.BanchengError:
    with pytest.raises(errors.BanchengError) as caught:
        body_of(raw)
    return caught.value


def test_an_ordinary_body_comes_back_as_it_was_sent():
    body = {
        "description": "住所使用证明不被认可\n第二行\t缩进",
        "applicant": {"kind": "person", "name": "张三"},
        "level": 5,
        "ratio": 0.5,
        "complex": False,
        "materials_missing": ["租赁合同", None],
    }
    assert body_of(json.dumps(body, ensure_ascii=False)) == body


@pytest.mark.parametrize(
    "raw, field",
    [
        ('{"username": "a\\u0000b", "password": "demo"}', "username"),
        ('{"applicant": {"name": "\\u001b[2J"}}', "applicant.name"),
        ('{"ratings": [{"text": "好"}, {"text": "\\u007f"}]}', "ratings[1].text"),
        ('{"text": "\\u0085"}', "text"),  # a C1 control
        ('{"text": "\\ud800"}', "text"),  # a lone surrogate: not even encodable as UTF-8
    ],
)
def test_control_characters_and_lone_surrogates_are_refused_naming_the_field(raw, field):
    error = refused(raw)
    assert isinstance(error, errors.InvalidField) and error.status == 422
    assert error.field == field


def test_a_control_character_in_a_key_is_refused_with_the_key_shown_escaped():
    error = refused('{"applicant": {"na\\u0000me": "张三"}}')
    assert error.status == 422 and error.field == "applicant.na\\x00me"


@pytest.mark.parametrize(
    "raw, field",
    [
        ('{"level": Infinity}', "level"),
        ('{"level": -Infinity}', "level"),
        ('{"level": NaN}', "level"),
        ('{"level": 1e400}', "level"),  # Python reads it as inf
        ('{"worked_measures": [1, 9007199254740992]}', "worked_measures[1]"),
        ('{"level": -99999999999999999999999}', "level"),
    ],
)
def test_numbers_must_be_finite_and_exact_in_every_json_reader(raw, field):
    error = refused(raw)
    assert error.status == 422 and error.field == field


def test_the_largest_exact_integer_is_accepted():
    assert body_of('{"n": 9007199254740991, "m": -9007199254740991}')["n"] == 2**53 - 1


def test_an_integer_too_long_for_python_is_a_400_not_a_crash():
    error = refused('{"level": ' + "9" * 5000 + "}")
    assert isinstance(error, errors.BadRequest) and error.status == 400


def test_json_nested_deeper_than_python_recurses_is_a_400_not_a_crash():
    error = refused("[" * 100_000 + "]" * 100_000)
    assert isinstance(error, errors.BadRequest) and error.status == 400


def test_nesting_beyond_the_limit_is_refused_naming_where():
    nested = {"a": 1}
    for _ in range(validation.MAX_DEPTH):
        nested = {"x": nested}
    error = refused(json.dumps(nested))
    assert error.status == 422 and error.field.startswith("x.x.")


def test_the_deepest_body_of_the_contract_passes():
    batch = {"ratings": [{"applicant": {"kind": "person", "name": "张三"}, "level": 1}]}
    assert body_of(json.dumps(batch)) == batch


@pytest.mark.parametrize("raw", [b"", b"[]", b'"x"', b"\xff\xfe", b"{"])
def test_what_is_not_a_json_object_is_a_400(raw):
    assert refused(raw).status == 400


@pytest.mark.parametrize(
    "raw, expected", [(None, None), ("", None), ("1", 1), ("5000", 200), ("007", 7)]
)
def test_a_page_limit_is_a_whole_number_from_one(raw, expected):
    assert validation.page_limit(raw) == expected


@pytest.mark.parametrize(
    "raw", ["0", "-1", "1.5", "1e3", "Infinity", "NaN", "abc", "٣", "9" * 5000]
)
def test_any_other_limit_is_refused_naming_limit(raw):
    with pytest.raises(errors.InvalidField) as caught:
        validation.page_limit(raw)
    assert caught.value.field == "limit"


@pytest.mark.parametrize(
    "raw", ["-1", "Infinity", "NaN", "1e400", "abc", "9223372036854775808", "9" * 5000]
)
def test_an_id_cursor_must_fit_a_bigint(raw):
    with pytest.raises(errors.InvalidField) as caught:
        validation.id_cursor(raw)
    assert caught.value.field == "cursor"


def test_an_id_cursor_within_bigint_is_its_number():
    assert validation.id_cursor("9223372036854775807") == 2**63 - 1
    assert validation.id_cursor(None) is None


def test_parameters_are_checked_by_name_and_by_value():
    validation.check_parameters([("q", "住所\t证明"), ("site", "HALL")])
    with pytest.raises(errors.InvalidField) as by_value:
        validation.check_parameters([("site", "HALL"), ("q", "a\x00")])
    assert by_value.value.field == "q"
    with pytest.raises(errors.InvalidField) as by_name:
        validation.check_parameters([("q\x01", "x")])
    assert by_name.value.field == "q\\x01"


def test_a_parameter_value_longer_than_any_code_or_search_is_refused():
    validation.check_parameters([("q", "x" * validation.MAX_PARAMETER_LENGTH)])
    with pytest.raises(errors.InvalidField) as caught:
        validation.check_parameters([("q", "x" * (validation.MAX_PARAMETER_LENGTH + 1))])
    assert caught.value.field == "q"


def test_a_large_batch_passes_and_a_bad_value_deep_in_it_is_named():
    batch = {
        "ratings": [
            {"channel": "rating", "level": 2, "text": "办理慢", "applicant": {"name": "张三"}}
            for _ in range(5000)
        ]
    }
    validation.check_body(batch)
    batch["ratings"][4321]["applicant"]["name"] = "张\x1b三"
    with pytest.raises(errors.InvalidField) as caught:
        validation.check_body(batch)
    assert caught.value.field == "ratings[4321].applicant.name"
