"""Protecting applicants' ID numbers: masking for display, encryption at rest, a lookup hash.

DESIGN §7: 居民身份证 numbers and 统一社会信用代码 are encrypted at rest and masked in pages,
exports and logs. Staff still need to find a person's earlier cases by the exact number, so
each stored number also gets a deterministic keyed hash (HMAC) to search on.

Everything here is pure: the secret comes from configuration, nothing touches a database.
"""

import base64
import binascii
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_LENGTH = 16

_TOKEN_PREFIX = "v1:"
_NONCE_BYTES = 12
_TAG_BYTES = 16
# Binds every ciphertext to its purpose, so a token made for something else never decrypts here.
_ASSOCIATED_DATA = b"bancheng:id-number:v1"
_HKDF_SALT = b"bancheng/intake/id-number"
_ENCRYPTION_INFO = b"bancheng/id-number/aes-256-gcm/v1"
_LOOKUP_INFO = b"bancheng/id-number/lookup-hmac-sha256/v1"

_ID_LENGTH = 18
_SEPARATORS = frozenset(" -")


class IdNumberDecryptionError(ValueError):
    """A stored ID-number token cannot be decrypted: wrong key, or the token is damaged."""


def normalize_id_number(value: str | None) -> str:
    """Return the canonical form of an ID number or credit code.

    Full-width characters (common from Chinese input methods) become ASCII, whitespace and
    hyphens are removed and letters are upper-cased, so ``"３２０１… x"`` and ``"3201…X"``
    encrypt, hash and mask alike. ``None`` becomes ``""``.
    """
    if value is None:
        return ""
    value = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in value if not ch.isspace() and ch not in _SEPARATORS).upper()


def _looks_like_resident_id(value: str) -> bool:
    return (
        len(value) == _ID_LENGTH
        and value[:-1].isascii()
        and value[:-1].isdigit()
        and (value[-1].isdigit() or value[-1] == "X")
    )


def mask_id_number(value: str | None, kind: str | None = None) -> str:
    """Mask an ID number for pages, exports and logs; the clear middle is never returned.

    * 18-character 居民身份证 number: first 6 and last 4 kept — ``320102********1234``;
    * 18-character 统一社会信用代码: first 2 and last 4 kept — ``91************341L``;
    * any other length: all but the last 2 masked (all masked when 4 characters or fewer).

    ``kind`` (``"person"`` or ``"enterprise"``) says which of the two an 18-character value
    is; without it a value of 17 digits plus a digit or ``X`` is taken for a 居民身份证 number.
    An empty value gives ``""``.
    """
    number = normalize_id_number(value)
    length = len(number)
    if length == 0:
        return ""
    if length == _ID_LENGTH:
        if kind == "person" or (kind != "enterprise" and _looks_like_resident_id(number)):
            keep_start = 6
        else:
            keep_start = 2
        return number[:keep_start] + "*" * (length - keep_start - 4) + number[-4:]
    if length <= 4:
        return "*" * length
    return "*" * (length - 2) + number[-2:]


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def _derive_key(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info).derive(secret)


class IdNumberCipher:
    """Encrypts ID numbers at rest and computes their lookup hash.

    Built from one secret string from configuration; HKDF-SHA256 derives two independent
    32-byte keys from it — one for AES-256-GCM, one for the HMAC-SHA256 lookup hash — so the
    searchable hash reveals nothing about the encryption key. Values are normalized with
    :func:`normalize_id_number` first.
    """

    def __init__(self, secret: str):
        """Derive the keys from ``secret``; raise ``ValueError`` if it is shorter than 16."""
        if not isinstance(secret, str) or len(secret.strip()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"ID-number secret must be a string of at least {MIN_SECRET_LENGTH} characters"
            )
        raw = secret.encode("utf-8")
        self._aead = AESGCM(_derive_key(raw, _ENCRYPTION_INFO))
        self._lookup_key = _derive_key(raw, _LOOKUP_INFO)

    def __repr__(self) -> str:
        return "IdNumberCipher(secret=<hidden>)"

    @staticmethod
    def _normalized(value: str) -> str:
        number = normalize_id_number(value)
        if not number:
            raise ValueError("ID number to protect is empty")
        return number

    def encrypt(self, value: str) -> str:
        """Encrypt a (normalized) ID number into an ASCII token ``v1:<base64url>``.

        A fresh random 12-byte nonce is used each time, so equal numbers give different tokens.
        """
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(
            nonce, self._normalized(value).encode("utf-8"), _ASSOCIATED_DATA
        )
        return _TOKEN_PREFIX + _b64encode(nonce + sealed)

    def decrypt(self, token: str) -> str:
        """Return the ID number sealed in ``token`` by :meth:`encrypt`.

        Raises :class:`IdNumberDecryptionError` if the token is malformed, was made with
        another secret, or has been altered.
        """
        if not isinstance(token, str) or not token.startswith(_TOKEN_PREFIX):
            raise IdNumberDecryptionError("not an ID-number token (expected prefix 'v1:')")
        try:
            raw = _b64decode(token[len(_TOKEN_PREFIX) :])
        except (binascii.Error, ValueError) as exc:
            raise IdNumberDecryptionError("ID-number token is not valid base64url") from exc
        if len(raw) <= _NONCE_BYTES + _TAG_BYTES:
            raise IdNumberDecryptionError("ID-number token is too short")
        try:
            clear = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _ASSOCIATED_DATA)
        except InvalidTag as exc:
            raise IdNumberDecryptionError(
                "cannot decrypt ID number: wrong secret key or damaged token"
            ) from exc
        return clear.decode("utf-8")

    def lookup_hash(self, value: str) -> str:
        """Return the hex HMAC-SHA256 of the normalized number: stable for one secret.

        Store it beside the encrypted token and search on it to find earlier cases by the
        exact number without keeping the number in clear.
        """
        digest = hmac.new(self._lookup_key, self._normalized(value).encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()


def protect(cipher: IdNumberCipher, value: str | None, kind: str | None) -> dict:
    """What is stored of an ID number: ``cipher`` (encrypted), ``masked`` and ``hash`` (to find
    the same applicant's cases) — never the number in clear. Empty without a number."""
    if value is None:
        return {}
    return {
        "cipher": cipher.encrypt(value),
        "masked": mask_id_number(value, kind),
        "hash": cipher.lookup_hash(value),
    }
