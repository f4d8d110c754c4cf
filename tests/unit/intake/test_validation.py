"""Registration-form validators: 居民身份证, 统一社会信用代码, phone numbers and free text."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from services.common.errors import InvalidField
from services.intake import validation
from services.intake.validation import (
    applicant_identifier,
    credit_code,
    mobile_phone,
    resident_id,
    text,
)

RIC_CHECK_CHARS = "0123456789X"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


# --- reference implementations of the check digits, written from the standards ----------


def ric_check_digit(first17: str) -> str:
    """GB 11643-1999: weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11, 10 → X."""
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return RIC_CHECK_CHARS[(12 - total % 11) % 11]


def make_resident_id(area: str, birth: str, sequence: str = "001") -> str:
    first17 = area + birth + sequence
    return first17 + ric_check_digit(first17)


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015: weights 3^(i-1) mod 31, check = 31 - (sum mod 31), 31 → 0."""
    weights = [pow(3, i, 31) for i in range(17)]
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, weights, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_credit_code(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def with_last(number: str, last: str) -> str:
    return number[:-1] + last


def invalid(call, *args, **kwargs) -> InvalidField:
    with pytest.raises(InvalidField) as info:
        call(*args, **kwargs)
    return info.value


# Address codes stdnum knows for every year, so stdnum's own validate() accepts them too.
TIMELESS_AREAS = ["110101", "110102", "110105", "110108", "120101", "310101", "310104"]

resident_ids = st.builds(
    lambda area, birth, seq: make_resident_id(area, birth.strftime("%Y%m%d"), f"{seq:03d}"),
    st.sampled_from(TIMELESS_AREAS),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2024, 12, 31)),
    st.integers(min_value=0, max_value=999),
)

credit_codes = st.builds(
    lambda head, region, org: make_credit_code(head + region + org),
    st.sampled_from(["91", "92", "93", "11", "12", "51", "52", "53"]),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
)


# --- the helpers agree with stdnum ---------------------------------------------------------


def test_reference_ric_helper_matches_known_numbers():
    assert make_resident_id("360426", "19910101", "007") == "360426199101010071"
    assert ric.validate(make_resident_id("110101", "19800101")) == "110101198001010010"


def test_reference_uscc_helper_matches_known_code():
    assert make_credit_code("91110000600037341") == "91110000600037341L"


# --- resident_id -----------------------------------------------------------------------------


def test_valid_resident_id_is_returned_normalized():
    number = make_resident_id("320102", "19900307", "123")
    assert ric.is_valid(number)
    assert resident_id(number) == number
    assert resident_id(f"  {number[:6]} {number[6:14]} {number[14:]} ") == number


def test_lowercase_x_check_digit_is_accepted_and_upper_cased():
    number = next(
        make_resident_id("110101", "19800101", f"{seq:03d}")
        for seq in range(1000)
        if ric_check_digit(f"11010119800101{seq:03d}") == "X"
    )
    assert ric.is_valid(number)
    assert resident_id(number.lower()) == number
    assert resident_id(number.lower()).endswith("X")


def test_full_width_digits_from_chinese_input_methods_are_accepted():
    number = make_resident_id("110101", "19800101", "001")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert resident_id(full_width) == number


def test_wrong_check_digit_is_refused_with_its_own_message():
    number = make_resident_id("110101", "19800101", "001")
    wrong = with_last(number, "1" if number[-1] != "1" else "2")
    with pytest.raises(InvalidChecksum):
        ric.validate(wrong)
    error = invalid(resident_id, wrong)
    assert error.field == "applicant.id_number"
    assert "校验位" in error.message


@pytest.mark.parametrize(
    "birth",
    ["19990229", "19800230", "19801301", "19800100", "19800132", "20001100"],
)
def test_impossible_birth_date_is_refused(birth):
    number = make_resident_id("110101", birth)  # correct check digit, impossible date
    with pytest.raises(InvalidComponent):
        ric.validate(number)
    error = invalid(resident_id, number)
    assert error.field == "applicant.id_number"
    assert "出生日期" in error.message


def test_leap_day_in_a_leap_year_is_a_real_birth_date():
    number = make_resident_id("110101", "20000229")
    assert resident_id(number) == number


def test_birth_date_in_the_future_is_refused():
    number = make_resident_id("110101", "29990101")
    assert "出生日期" in invalid(resident_id, number).message


def test_implausibly_early_birth_date_is_refused():
    number = make_resident_id("110101", "18000101")
    assert "出生日期" in invalid(resident_id, number).message


def test_unknown_province_code_is_refused():
    number = make_resident_id("990101", "19800101")
    error = invalid(resident_id, number)
    assert error.field == "applicant.id_number"
    assert "地区码" in error.message


def test_address_code_younger_than_the_holder_is_accepted():
    """南京市玄武区 (320102) exists since 1983; people born before keep that code on their card.

    stdnum's validate() refuses these real numbers, so the validator deliberately does not use
    its birth-place check.
    """
    number = make_resident_id("320102", "19800101", "001")
    with pytest.raises(InvalidComponent):
        ric.validate(number)
    assert resident_id(number) == number


@pytest.mark.parametrize(
    "value",
    [
        "11010119800101001",  # 17 characters
        "1101011980010100100",  # 19 characters
        "110101800101001",  # old 15-digit card
        "1",
    ],
)
def test_wrong_length_is_refused_with_the_length(value):
    with pytest.raises(InvalidLength):
        ric.validate(value)
    error = invalid(resident_id, value)
    assert error.field == "applicant.id_number"
    assert "18位" in error.message
    assert f"{len(value)}位" in error.message


@pytest.mark.parametrize(
    "value",
    ["11010119800101A010", "X10101198001010010", "11010119800101001Y", "1101011980010100.1"],
)
def test_wrong_characters_are_refused(value):
    assert not ric.is_valid(value)
    error = invalid(resident_id, value)
    assert error.field == "applicant.id_number"
    assert "数字" in error.message


@pytest.mark.parametrize("value", ["", "   ", None])
def test_empty_resident_id_is_refused(value):
    error = invalid(resident_id, value)
    assert error.field == "applicant.id_number"
    assert "不能为空" in error.message


def test_non_text_resident_id_is_refused():
    assert invalid(resident_id, 110101198001010010).field == "applicant.id_number"


def test_resident_id_errors_name_the_given_field():
    assert invalid(resident_id, "123", field="agent.id_number").field == "agent.id_number"


@given(resident_ids)
def test_every_generated_resident_id_is_accepted(number):
    assert ric.is_valid(number)
    assert resident_id(number) == number
    assert resident_id(number.lower()) == number


@given(resident_ids, st.sampled_from(RIC_CHECK_CHARS))
def test_any_other_check_digit_is_refused(number, replacement):
    if replacement == number[-1]:
        return
    wrong = with_last(number, replacement)
    assert not ric.is_valid(wrong)
    error = invalid(resident_id, wrong)
    assert error.field == "applicant.id_number"
    assert "校验位" in error.message


@given(resident_ids, st.integers(min_value=0, max_value=16), st.integers(1, 9))
def test_any_single_digit_typo_is_caught(number, position, shift):
    typo = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    assert invalid(resident_id, typo).field == "applicant.id_number"


# --- credit_code -----------------------------------------------------------------------------


def test_valid_credit_code_is_returned_normalized():
    assert credit_code("91110000600037341L") == "91110000600037341L"
    assert credit_code(" 91110000600037341l ") == "91110000600037341L"
    assert credit_code("9111-0000-6000-3734-1L") == "91110000600037341L"


def test_letter_registration_authority_codes_from_gb32100_are_accepted():
    """``N`` (农业) and ``Y`` (其他) are GB 32100 authority codes that stdnum refuses."""
    code = make_credit_code("N2320102MA1234567")
    with pytest.raises(InvalidFormat):
        uscc.validate(code)
    assert credit_code(code) == code
    other = make_credit_code("Y1320102MA7654321")
    assert credit_code(other) == other


def test_wrong_credit_code_check_character_is_refused():
    with pytest.raises(InvalidChecksum):
        uscc.validate("91110000600037341K")
    error = invalid(credit_code, "91110000600037341K")
    assert error.field == "applicant.id_number"
    assert "校验位" in error.message


@pytest.mark.parametrize(
    "value",
    [
        "91110000600037341O",  # O is not in the GB 32100 set
        "9111000060003734IL",  # nor I
        "911100Z0600037341L",  # letters in the administrative-division part
        "91110000600037341*",
    ],
)
def test_credit_code_with_characters_outside_gb32100_is_refused(value):
    error = invalid(credit_code, value)
    assert error.field == "applicant.id_number"
    assert "格式不正确" in error.message


@pytest.mark.parametrize("value", ["9111000060003734", "91110000600037341LL", "12345"])
def test_credit_code_of_wrong_length_is_refused(value):
    with pytest.raises(InvalidLength):
        uscc.validate(value)
    error = invalid(credit_code, value)
    assert error.field == "applicant.id_number"
    assert "18位" in error.message


@pytest.mark.parametrize("value", ["", " ", None])
def test_empty_credit_code_is_refused(value):
    error = invalid(credit_code, value)
    assert "统一社会信用代码不能为空" == error.message
    assert error.field == "applicant.id_number"


@given(credit_codes)
def test_every_generated_credit_code_is_accepted(code):
    assert uscc.is_valid(code)
    assert credit_code(code) == code
    assert credit_code(code.lower()) == code


@given(credit_codes, st.sampled_from(USCC_ALPHABET))
def test_any_other_credit_code_check_character_is_refused(code, replacement):
    if replacement == code[-1]:
        return
    error = invalid(credit_code, with_last(code, replacement))
    assert error.field == "applicant.id_number"
    assert "校验位" in error.message


# --- applicant_identifier --------------------------------------------------------------------


def test_applicant_identifier_checks_by_kind():
    person = make_resident_id("110101", "19800101")
    assert applicant_identifier("person", person) == person
    assert applicant_identifier("enterprise", "91110000600037341l") == "91110000600037341L"


def test_applicant_identifier_does_not_accept_the_other_kinds_number():
    person = make_resident_id("110101", "19800101")
    assert "统一社会信用代码" in invalid(applicant_identifier, "enterprise", person).message
    error = invalid(applicant_identifier, "person", "91110000600037341L")
    assert error.field == "applicant.id_number"


@pytest.mark.parametrize("kind", ["company", "", None, "Person"])
def test_unknown_applicant_kind_is_refused_on_the_kind_field(kind):
    error = invalid(applicant_identifier, kind, "91110000600037341L")
    assert error.field == "applicant.kind"


def test_applicant_identifier_passes_the_field_on():
    error = invalid(applicant_identifier, "person", "bad", field="agent.id_number")
    assert error.field == "agent.id_number"


# --- mobile_phone ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("１９９１２３４５６７８", "19912345678"),
        ("025-84201234", "025-84201234"),
        ("02584201234", "025-84201234"),
        ("(025) 8420 1234", "025-84201234"),
        ("010-65123456", "010-65123456"),
        ("0512-6512345", "0512-6512345"),
        ("05126512345", "0512-6512345"),
        ("0755-86013388", "0755-86013388"),
        ("+86 25 84201234", "025-84201234"),
        ("+86 (0)25 8420 1234", "025-84201234"),
    ],
)
def test_phone_numbers_are_normalized(value, expected):
    assert mobile_phone(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "12812345678",  # no 12x mobile range
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "8612812345678",
        "+1 415 555 1234",
        "025-8420",  # local part too short
        "025-842012345",  # local part too long
        "025-04201234",  # local numbers do not start with 0 or 1
        "0112-6512345",  # no area codes 011x
        "84201234",  # landline without area code
        "138abc45678",
        "138.1234.5678",
    ],
)
def test_bad_phone_numbers_are_refused(value):
    assert invalid(mobile_phone, value).field == "applicant.phone"


@pytest.mark.parametrize("value", ["", "  ", None])
def test_empty_phone_is_refused(value):
    error = invalid(mobile_phone, value)
    assert error.field == "applicant.phone"
    assert "不能为空" in error.message


def test_phone_errors_name_the_given_field():
    assert invalid(mobile_phone, "123", field="contact.phone").field == "contact.phone"


@given(st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9))
def test_every_mainland_mobile_is_accepted(second, rest):
    number = "1" + second + rest
    assert mobile_phone(number) == number
    assert mobile_phone(f"+86 {number[:3]} {number[3:7]} {number[7:]}") == number


# --- text ------------------------------------------------------------------------------------


def test_text_is_stripped():
    assert (
        text("  窗口无法办理营业执照变更  ", "description", max_length=50)
        == "窗口无法办理营业执照变更"
    )


def test_required_text_refuses_blank():
    for value in ("", "  \n\t ", None):
        error = invalid(text, value, "description", max_length=10, label="事项描述")
        assert error.field == "description"
        assert error.message == "事项描述不能为空"


def test_optional_text_gives_empty_string():
    assert text(None, "remark", max_length=10, required=False) == ""
    assert text("   ", "remark", max_length=10, required=False) == ""


def test_length_counts_characters_not_bytes():
    ten_chinese = "办事不能一推了之，好"
    assert len(ten_chinese.encode("utf-8")) == 30
    assert text(ten_chinese, "applicant.name", max_length=10) == ten_chinese
    error = invalid(text, ten_chinese + "的", "applicant.name", max_length=10)
    assert error.field == "applicant.name"
    assert "10个字符" in error.message


def test_newlines_and_tabs_are_kept_and_crlf_normalized():
    assert text("第一行\r\n第二行\r第三行\t完", "d", max_length=100) == "第一行\n第二行\n第三行\t完"


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x07", "\x7f", "\x85", "\ud800"])
def test_control_characters_are_refused(bad):
    error = invalid(text, f"说明{bad}内容", "description", max_length=100)
    assert error.field == "description"
    assert "控制字符" in error.message


def test_non_text_value_is_refused():
    assert invalid(text, 42, "description", max_length=10).field == "description"


@given(
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\r"),
        max_size=30,
    )
)
def test_clean_text_within_the_limit_comes_back_stripped(value):
    if not value.strip():
        assert text(value, "d", max_length=30, required=False) == ""
    else:
        assert text(value, "d", max_length=30) == value.strip()


def test_module_exposes_the_field_names_it_uses():
    assert validation.ID_NUMBER_FIELD == "applicant.id_number"
    assert validation.PHONE_FIELD == "applicant.phone"
    assert validation.KIND_FIELD == "applicant.kind"
