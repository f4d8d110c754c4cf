"""Protecting ID numbers: masking, encryption at rest and the lookup hash."""

import datetime
import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.personal_data import (
    IdNumberCipher,
    IdNumberDecryptionError,
    mask_id_number,
    normalize_id_number,
)

SECRET = "bancheng-test-secret-0123456789"
OTHER_SECRET = "another-test-secret-9876543210"
RIC_CHECK_CHARS = "0123456789X"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_resident_id(area: str, birth: str, sequence: str = "001") -> str:
    """GB 11643-1999 check digit: weights 2^(17-i) mod 11."""
    first17 = area + birth + sequence
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    return first17 + RIC_CHECK_CHARS[(12 - total % 11) % 11]


resident_ids = st.builds(
    lambda area, birth, seq: make_resident_id(area, birth.strftime("%Y%m%d"), f"{seq:03d}"),
    st.sampled_from(["110101", "310104", "320102", "440106", "510104"]),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2024, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
credit_codes = st.builds(
    lambda head, body: head + body,
    st.sampled_from(["91", "92", "12", "51"]),
    st.text(USCC_ALPHABET, min_size=16, max_size=16).filter(lambda s: not s[:15].isdigit()),
)


@pytest.fixture(scope="module")
def cipher() -> IdNumberCipher:
    return IdNumberCipher(SECRET)


# --- normalization -------------------------------------------------------------------------


def test_normalization_removes_spaces_and_upper_cases():
    assert normalize_id_number(" 320102 19800101 123x ") == "32010219800101123X"
    assert normalize_id_number("３２０１０２１９８００１０１１２３ｘ") == "32010219800101123X"
    assert normalize_id_number(None) == ""


# --- mask_id_number ------------------------------------------------------------------------


def test_resident_id_keeps_first_six_and_last_four():
    assert mask_id_number("320102198001011234") == "320102********1234"
    assert mask_id_number("32010219800101123x") == "320102********123X"


def test_credit_code_keeps_first_two_and_last_four():
    assert mask_id_number("91110000600037341L") == "91************341L"


def test_kind_decides_for_an_all_digit_credit_code():
    all_digits = "913201001234567890"
    assert mask_id_number(all_digits) == "913201********7890"
    assert mask_id_number(all_digits, kind="enterprise") == "91************7890"
    assert mask_id_number("91110000600037341L", kind="person") == "911100********341L"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("110101800101001", "*************01"),  # old 15-digit card
        ("12345", "***45"),
        ("1234", "****"),
        ("1", "*"),
        ("1101011980010100101", "*****************01"),  # too long: not an 18-char number
    ],
)
def test_other_lengths_show_at_most_the_last_two(value, expected):
    assert mask_id_number(value) == expected


def test_empty_value_masks_to_empty():
    assert mask_id_number("") == ""
    assert mask_id_number(None) == ""


@given(resident_ids)
def test_masked_resident_id_never_contains_the_middle(number):
    masked = mask_id_number(number)
    assert len(masked) == 18
    assert masked[:6] == number[:6] and masked[-4:] == number[-4:]
    assert masked[6:14] == "*" * 8
    assert number[6:14] not in masked  # the birth date is gone
    assert mask_id_number(number.lower()) == masked


@given(credit_codes)
def test_masked_credit_code_never_contains_the_middle(code):
    masked = mask_id_number(code)
    assert masked == code[:2] + "*" * 12 + code[-4:]
    assert code[2:14] not in masked


@given(st.text(st.characters(categories=("Nd", "Lu")), min_size=1, max_size=40))
def test_no_mask_reveals_more_than_ten_characters(value):
    masked = mask_id_number(value)
    number = normalize_id_number(value)
    assert len(masked) == len(number)
    assert sum(c != "*" for c in masked) <= 10
    if len(number) != 18:
        assert set(masked[:-2]) <= {"*"}


# --- IdNumberCipher: construction ------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "short", "x" * 15, " " * 40, None, b"0123456789abcdefgh"])
def test_empty_short_or_non_text_secret_is_refused(secret):
    with pytest.raises(ValueError):
        IdNumberCipher(secret)


def test_sixteen_characters_are_enough():
    IdNumberCipher("0123456789abcdef")


def test_repr_does_not_show_the_secret(cipher):
    assert SECRET not in repr(cipher)


# --- encrypt / decrypt -----------------------------------------------------------------------


def test_token_is_compact_ascii_without_the_number(cipher):
    number = "320102198001011234"
    token = cipher.encrypt(number)
    assert re.fullmatch(r"v2:k1:[A-Za-z0-9_-]+", token)
    assert number not in token
    # 12-byte nonce + 18 bytes + 16-byte tag = 46 bytes → 62 base64url characters.
    assert len(token) == len("v2:k1:") + 62


def test_encrypt_normalizes_first(cipher):
    assert cipher.decrypt(cipher.encrypt(" 32010219800101123x ")) == "32010219800101123X"


def test_empty_value_is_not_encrypted(cipher):
    with pytest.raises(ValueError):
        cipher.encrypt("  ")


def test_wrong_secret_cannot_decrypt(cipher):
    token = cipher.encrypt("320102198001011234")
    with pytest.raises(IdNumberDecryptionError, match="wrong secret key"):
        IdNumberCipher(OTHER_SECRET).decrypt(token)


def test_same_secret_in_a_new_instance_decrypts(cipher):
    token = cipher.encrypt("91110000600037341L")
    assert IdNumberCipher(SECRET).decrypt(token) == "91110000600037341L"


def test_altered_token_is_refused(cipher):
    token = cipher.encrypt("320102198001011234")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(IdNumberDecryptionError):
        cipher.decrypt(flipped)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "320102198001011234",
        "v2:AAAA",
        "v2:k1:",
        "v2:k9:AAAA",
        "v1:",
        "v1:AAAA",
        "v1:!!!!",
        "v1:a b",
        None,
    ],
)
def test_malformed_token_is_refused(cipher, token):
    with pytest.raises(IdNumberDecryptionError):
        cipher.decrypt(token)


def test_decryption_error_is_a_value_error():
    assert issubclass(IdNumberDecryptionError, ValueError)


@given(st.one_of(resident_ids, credit_codes))
def test_encrypt_decrypt_round_trips(number):
    cipher = IdNumberCipher(SECRET)
    first = cipher.encrypt(number)
    second = cipher.encrypt(number)
    assert first != second  # fresh nonce each time
    assert cipher.decrypt(first) == number
    assert cipher.decrypt(second) == number


@given(st.text(min_size=1, max_size=40).filter(lambda s: normalize_id_number(s)))
def test_any_text_round_trips_in_normalized_form(value):
    cipher = IdNumberCipher(SECRET)
    assert cipher.decrypt(cipher.encrypt(value)) == normalize_id_number(value)


# --- lookup_hash -----------------------------------------------------------------------------


def test_lookup_hash_is_hex_sha256(cipher):
    digest = cipher.lookup_hash("320102198001011234")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_lookup_hash_is_keyed_not_a_plain_hash(cipher):
    number = "320102198001011234"
    assert cipher.lookup_hash(number) != hashlib.sha256(number.encode()).hexdigest()


def test_lookup_hash_ignores_spacing_and_case(cipher):
    assert cipher.lookup_hash("32010219800101123x") == cipher.lookup_hash("320102 19800101 123X")


def test_lookup_hash_of_empty_value_is_refused(cipher):
    with pytest.raises(ValueError):
        cipher.lookup_hash("")


@given(st.one_of(resident_ids, credit_codes))
def test_lookup_hash_is_stable_and_depends_on_the_secret(number):
    one = IdNumberCipher(SECRET)
    assert one.lookup_hash(number) == IdNumberCipher(SECRET).lookup_hash(number)
    assert one.lookup_hash(number) != IdNumberCipher(OTHER_SECRET).lookup_hash(number)


@given(resident_ids, resident_ids)
def test_different_numbers_hash_differently(first, second):
    cipher = IdNumberCipher(SECRET)
    assert (cipher.lookup_hash(first) == cipher.lookup_hash(second)) == (first == second)


# --- key ids and rotation --------------------------------------------------------------------

NEW_SECRET = "rotated-test-secret-5555555555"
NUMBER = "320102198001011234"


def legacy_token(secret: str, number: str) -> str:
    """A token as the cipher wrote it before key ids: ``v1:`` and the v1 associated data."""
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from services.intake import personal_data

    key = personal_data._derive_key(secret.encode(), personal_data._ENCRYPTION_INFO)
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, number.encode(), b"bancheng:id-number:v1")
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()


def test_a_token_from_before_key_ids_is_read_with_key_k1():
    rotated = IdNumberCipher([("k2", NEW_SECRET), ("k1", SECRET)])
    token = legacy_token(SECRET, NUMBER)
    assert IdNumberCipher.key_id(token) == "k1"
    assert rotated.decrypt(token) == NUMBER
    assert IdNumberCipher(SECRET).decrypt(token) == NUMBER


def test_new_tokens_are_sealed_with_the_current_key_and_old_ones_stay_readable():
    old = IdNumberCipher(SECRET)
    before = old.encrypt(NUMBER)
    rotated = IdNumberCipher([("k2", NEW_SECRET), ("k1", SECRET)])
    after = rotated.encrypt(NUMBER)
    assert IdNumberCipher.key_id(before) == "k1" and IdNumberCipher.key_id(after) == "k2"
    assert rotated.decrypt(before) == rotated.decrypt(after) == NUMBER
    with pytest.raises(IdNumberDecryptionError, match="not configured"):
        old.decrypt(after)


def test_reencrypt_moves_a_token_to_the_current_key_once():
    rotated = IdNumberCipher([("k2", NEW_SECRET), ("k1", SECRET)])
    moved = rotated.reencrypt(IdNumberCipher(SECRET).encrypt(NUMBER))
    assert rotated.is_current(moved) and rotated.reencrypt(moved) == moved
    assert IdNumberCipher([("k2", NEW_SECRET)], lookup_secret=SECRET).decrypt(moved) == NUMBER


def test_a_token_relabelled_with_another_key_id_does_not_decrypt():
    both = IdNumberCipher([("k2", SECRET), ("k1", SECRET)])
    token = both.encrypt(NUMBER)
    with pytest.raises(IdNumberDecryptionError):
        both.decrypt(token.replace("v2:k2:", "v2:k1:", 1))


def test_the_lookup_hash_stays_the_same_across_a_rotation():
    before = IdNumberCipher(SECRET).lookup_hash(NUMBER)
    assert IdNumberCipher([("k2", NEW_SECRET), ("k1", SECRET)]).lookup_hash(NUMBER) == before
    assert IdNumberCipher([("k2", NEW_SECRET)], lookup_secret=SECRET).lookup_hash(NUMBER) == before


def test_several_keys_without_k1_need_a_lookup_secret():
    with pytest.raises(ValueError, match="lookup_secret"):
        IdNumberCipher([("k3", NEW_SECRET), ("k2", OTHER_SECRET)])
