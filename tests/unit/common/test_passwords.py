"""Password hashing with scrypt (services/common/passwords.py)."""

import base64
import hashlib

import pytest

from services.common.passwords import hash_password, verify_password


@pytest.fixture(scope="module")
def stored():
    return hash_password("正确的密码 correct horse")


def test_right_password_verifies(stored):
    assert verify_password("正确的密码 correct horse", stored)


@pytest.mark.parametrize(
    "attempt",
    ["", "正确的密码 correct hors", "正确的密码 correct horse ", "正确的密码 CORRECT HORSE"],
)
def test_wrong_password_does_not_verify(stored, attempt):
    assert not verify_password(attempt, stored)


def test_hash_is_self_describing(stored):
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(digest)) == 32


def test_hash_does_not_contain_the_password():
    assert "hunter2" not in hash_password("hunter2")


def test_salt_is_random_each_time():
    first, second = hash_password("demo"), hash_password("demo")
    assert first != second
    assert verify_password("demo", first) and verify_password("demo", second)


def test_given_salt_makes_the_hash_reproducible():
    salt = b"0123456789abcdef"
    assert hash_password("demo", salt=salt) == hash_password("demo", salt=salt)
    assert hash_password("demo", salt=salt) != hash_password("demo2", salt=salt)


def test_empty_password_round_trips():
    assert verify_password("", hash_password(""))
    assert not verify_password(" ", hash_password(""))


def test_hash_with_other_parameters_still_verifies():
    # Stored hashes carry their own N, r, p, so raising the cost later keeps old hashes valid.
    salt = b"saltsaltsaltsalt"
    digest = hashlib.scrypt(b"demo", salt=salt, n=2**10, r=4, p=2, dklen=24)
    stored = "$".join(
        [
            "scrypt",
            "1024",
            "4",
            "2",
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )
    assert verify_password("demo", stored)
    assert not verify_password("demo!", stored)


def test_altered_digest_does_not_verify(stored):
    head, digest = stored.rsplit("$", 1)
    raw = bytearray(base64.b64decode(digest))
    raw[0] ^= 1
    assert not verify_password(
        "正确的密码 correct horse", f"{head}${base64.b64encode(bytes(raw)).decode()}"
    )


@pytest.mark.parametrize(
    "malformed",
    ["", "plain-text-password", "scrypt", "scrypt$16384$8$1$c2FsdA==", "scrypt$16384$8$1$a$b$c"],
)
def test_hash_with_the_wrong_number_of_parts_does_not_verify(malformed):
    assert verify_password("demo", malformed) is False


@pytest.mark.parametrize(
    "other",
    [
        "pbkdf2_sha256$600000$c2FsdA==$ZGlnZXN0",
        "bcrypt$2b$12$abcdefghijklmnopqrstuu$vwxyz",
        "$2b$12$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY",
        "SCRYPT$16384$8$1$c2FsdA==$ZGlnZXN0",
        "argon2id$v=19$m=65536,t=3$c2FsdA$ZGlnZXN0",
    ],
)
def test_hash_of_another_scheme_does_not_verify(other):
    assert verify_password("demo", other) is False


@pytest.mark.parametrize(
    "malformed",
    [
        "scrypt$abc$8$1$c2FsdHNhbHQ=$ZGlnZXN0",
        "scrypt$16384$8$1$not base64!$ZGlnZXN0",
        "scrypt$16383$8$1$c2FsdHNhbHQ=$ZGlnZXN0",
        "scrypt$$$$$",
    ],
)
def test_scrypt_hash_with_malformed_parameters_does_not_verify(malformed):
    assert verify_password("demo", malformed) is False
