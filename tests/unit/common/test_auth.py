"""Signed session tokens and each role's reach (services/common/auth.py)."""

import base64
import hashlib

import pytest
from itsdangerous import URLSafeTimedSerializer, timed

from services.common import auth
from services.common.auth import ROLES, TokenSigner, sees_all_sites, visible_site
from services.common.errors import Unauthorized

SECRET = "test-secret-0123456789abcdef"
USER = {"id": "xjk.staff", "name": "王敏", "role": "window_staff", "site": "XJK"}
CLAIMS = {**USER, "sv": 0}  # a user without a session version: version 0


@pytest.fixture
def signer():
    return TokenSigner(SECRET, max_age_seconds=3600)


def unauthorized(signer, token) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        signer.read(token)
    assert info.value.status == 401
    assert info.value.code == "unauthorized"
    return info.value


# --- tokens ------------------------------------------------------------------------------------


def test_round_trip_gives_the_user_back(signer):
    token = signer.issue(USER)
    assert isinstance(token, str)
    assert signer.read(token) == CLAIMS


def test_token_is_url_and_header_safe(signer):
    token = signer.issue(USER)
    assert token.isascii()
    assert not set(token) & set(" \t\r\n;,\"'\\")


def test_only_the_session_keys_are_carried(signer):
    user = {**USER, "password_hash": "scrypt$...", "department": "SCJ", "username": "xjk"}
    assert signer.read(signer.issue(user)) == CLAIMS


def test_user_without_a_site_round_trips(signer):
    user = {"id": "supervisor", "name": "周监督", "role": "supervisor", "site": None}
    assert signer.read(signer.issue(user)) == {**user, "sv": 0}


def test_user_missing_a_session_key_cannot_be_issued(signer):
    with pytest.raises(KeyError):
        signer.issue({"id": "x", "name": "y", "role": "officer"})


def test_a_new_signer_with_the_same_secret_reads_the_token(signer):
    token = signer.issue(USER)
    assert TokenSigner(SECRET, max_age_seconds=60).read(token) == CLAIMS


def test_the_session_version_travels_in_the_token(signer):
    token = signer.issue({**USER, "session_version": 7})
    assert signer.read(token)["sv"] == 7


def test_tokens_are_signed_with_hmac_sha256(signer):
    token = signer.issue(USER)
    sha256 = URLSafeTimedSerializer(
        SECRET, salt=signer_salt(), signer_kwargs={"digest_method": hashlib.sha256}
    )
    assert sha256.loads(token) == CLAIMS
    signature = token.rsplit(".", 1)[1]
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == 32


def test_a_sha1_token_of_the_same_secret_and_salt_is_refused(signer):
    sha1 = URLSafeTimedSerializer(SECRET, salt=signer_salt())  # itsdangerous' default digest
    unauthorized(signer, sha1.dumps(CLAIMS))
    # nor the SHA-1 tokens issued before this change
    unauthorized(signer, URLSafeTimedSerializer(SECRET, salt="bancheng-session").dumps(USER))


def signer_salt() -> str:
    return TokenSigner(SECRET, 60)._serializer.salt


def test_tampered_payload_is_refused(signer):
    token = signer.issue(USER)
    payload, timestamp, signature = token.rsplit(".", 2)  # a compressed payload starts with "."
    forged = URLSafeTimedSerializer("x").dump_payload({**USER, "role": "operator"}).decode()
    error = unauthorized(signer, f"{forged}.{timestamp}.{signature}")
    assert "无效" in error.message


def test_tampered_signature_is_refused(signer):
    token = signer.issue(USER)
    head, signature = token.rsplit(".", 1)
    # Change a character in the middle: the last one may only carry padding bits.
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    unauthorized(signer, f"{head}.{signature[:middle]}{flipped}{signature[middle + 1 :]}")


def test_every_single_character_change_is_refused(signer):
    token = signer.issue(USER)
    # Skip the final character, whose low bits may be base64 padding.
    for index in range(len(token) - 1):
        replacement = "A" if token[index] != "A" else "B"
        tampered = token[:index] + replacement + token[index + 1 :]
        with pytest.raises(Unauthorized):
            signer.read(tampered)


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c", "...", "eyJpZCI6IngifQ"])
def test_garbage_is_refused(signer, token):
    unauthorized(signer, token)


def test_token_of_another_secret_is_refused(signer):
    other = TokenSigner("another-secret-fedcba9876543210", max_age_seconds=3600)
    unauthorized(signer, other.issue(USER))
    unauthorized(other, signer.issue(USER))


def test_token_signed_with_the_same_secret_but_another_salt_is_refused(signer):
    token = URLSafeTimedSerializer(SECRET, salt="something-else").dumps(USER)
    unauthorized(signer, token)


def test_expired_token_is_refused():
    token = TokenSigner(SECRET, max_age_seconds=3600).issue(USER)
    error = unauthorized(TokenSigner(SECRET, max_age_seconds=-1), token)
    assert "过期" in error.message


def test_token_expires_after_max_age(signer, monkeypatch):
    # itsdangerous reads the clock through TimestampSigner.get_timestamp, both to sign and to check.
    start = 1_780_000_000
    monkeypatch.setattr(timed.TimestampSigner, "get_timestamp", lambda self: start)
    token = signer.issue(USER)
    monkeypatch.setattr(timed.TimestampSigner, "get_timestamp", lambda self: start + 3600)
    assert signer.read(token) == CLAIMS
    monkeypatch.setattr(timed.TimestampSigner, "get_timestamp", lambda self: start + 3601)
    assert "过期" in unauthorized(signer, token).message


# --- roles' reach ------------------------------------------------------------------------------


def test_roles_are_the_designed_six():
    assert set(ROLES) == {"window_staff", "officer", "bureau", "supervisor", "operator", "hr"}
    # HR decides on dismissals only; it is given no reach over cases
    assert auth.DISTRICT_WIDE_ROLES == set(ROLES) - {"window_staff", "hr"}


@pytest.mark.parametrize(
    "role, sees_all",
    [
        ("window_staff", False),
        ("officer", True),
        ("bureau", True),
        ("supervisor", True),
        ("operator", True),
        ("unknown", False),
        ("", False),
    ],
)
def test_sees_all_sites_per_role(role, sees_all):
    assert sees_all_sites({"role": role, "site": "XJK"}) is sees_all


@pytest.mark.parametrize("role", ["officer", "bureau", "supervisor", "operator"])
@pytest.mark.parametrize("requested", [None, "XJK", "HALL"])
def test_district_wide_roles_query_the_site_they_ask_for(role, requested):
    assert visible_site({"role": role, "site": "HALL"}, requested) == requested


@pytest.mark.parametrize("requested", [None, "XJK", "HALL"])
def test_window_staff_always_query_their_own_site(requested):
    assert visible_site(USER, requested) == "XJK"


def test_unknown_role_is_confined_to_its_site():
    assert visible_site({"role": "intruder", "site": "GA"}, None) == "GA"


def test_a_role_bound_to_no_site_sees_no_site_not_every_site():
    # HR is not district-wide and has no site: an empty filter matches none
    assert visible_site({"role": "hr", "site": None}, "HALL") == ""
