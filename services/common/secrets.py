"""The secrets every process reads, and the rule that no development secret runs outside demo mode.

DESIGN §7: a token minted with the development ``TOKEN_SECRET`` is a working supervisor token, so
a deployment that forgot to set its secrets must not start. The rules:

* **Demo mode** is explicit: ``BANCHENG_DEMO=1`` (``make up`` and the test systems set it and say
  so). Only there may a secret be missing or keep a development value from the repository.
* Outside demo mode, each secret in :data:`SECRETS` must be set, at least
  :data:`MIN_SECRET_LENGTH` characters, and none of the values this repository ships
  (:data:`DEVELOPMENT_VALUES`); otherwise the process stops at start with
  :class:`DevelopmentSecretError` naming the setting (:func:`refuse_development_secrets`, called
  by the service container, so ``nameko run`` exits non-zero before it serves anything).
* Keys carry an id so they can be rotated: ``ID_NUMBER_KEYS`` / ``AUDIT_KEYS`` are
  ``id:secret,id:secret`` with the current key first; without them the single
  ``ID_NUMBER_KEY`` / ``AUDIT_KEY`` is key ``k1`` (:func:`keyed_secrets`). The ID numbers'
  lookup hash has a key of its own (:func:`id_lookup_secret`).

Pure apart from reading ``os.environ`` for demo mode when the config does not say.
"""

import logging
import os
import re

log = logging.getLogger(__name__)

DEMO_ENVIRONMENT_VARIABLE = "BANCHENG_DEMO"
MIN_SECRET_LENGTH = 16
LEGACY_KEY_ID = "k1"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")

# the services that log in to PostgreSQL as roles of their own (services.common.config)
DATABASE_SERVICES = ("intake", "coordination", "accountability", "reporting")


def demo_database_password(service: str) -> str:
    """The known password of ``service``'s database role in demo mode (refused outside it)."""
    return f"demo-db-password-{service}"


# Every value this repository (config, compose file, README) has ever shipped for a secret.
DEVELOPMENT_VALUES = frozenset(
    {
        "demo-token-secret-change-me",
        "dev-only-token-secret-change-me",
        "demo-id-number-key-change-me",
        "YmFuY2hlbmctZGV2LW9ubHktaWQtbnVtYmVyLWtleSE=",
        "demo-audit-key-change-me",
        *(demo_database_password(service) for service in DATABASE_SERVICES),
    }
)
# Read through :func:`secret`; the rotatable keys through :func:`id_number_keys` and
# :func:`audit_keys`.
SECRETS = ("TOKEN_SECRET",)
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


class DevelopmentSecretError(RuntimeError):
    """A secret is missing, too short or a development value outside demo mode."""


def _settings(config: dict) -> dict:
    return config.get("BANCHENG") or {}


def _is_true(value) -> bool:
    return value is True or (
        value not in (None, False) and str(value).strip().lower() in _TRUE_WORDS
    )


def demo_mode(config: dict | None = None) -> bool:
    """Whether this process runs as a demo: the config's ``BANCHENG.DEMO`` when it has one
    (the YAML fills it from ``BANCHENG_DEMO``), else the ``BANCHENG_DEMO`` environment variable."""
    settings = _settings(config or {})
    if "DEMO" in settings:
        return _is_true(settings["DEMO"])
    return _is_true(os.environ.get(DEMO_ENVIRONMENT_VARIABLE))


def _refusal(name: str, problem: str) -> DevelopmentSecretError:
    return DevelopmentSecretError(
        f"{name} {problem}: set {name} in the environment to a secret of your own "
        f"(at least {MIN_SECRET_LENGTH} characters), or run a demo with "
        f"{DEMO_ENVIRONMENT_VARIABLE}=1 (make up does)"
    )


def checked(name: str, value, demo: bool) -> str:
    """``value`` of the setting ``name`` if it may be used; raises :class:`DevelopmentSecretError`
    when it is missing, or (outside demo mode) too short or a development value."""
    text = "" if value is None else str(value).strip()
    if not text:
        raise _refusal(name, "is not set")
    if demo:
        return text
    if text in DEVELOPMENT_VALUES:
        raise _refusal(name, "is a development value from the repository")
    if len(text) < MIN_SECRET_LENGTH:
        raise _refusal(name, f"is shorter than {MIN_SECRET_LENGTH} characters")
    return text


def secret(config: dict, name: str) -> str:
    """The secret ``name`` from the ``BANCHENG`` section, refused as :func:`checked` says."""
    return checked(name, _settings(config).get(name), demo_mode(config))


def keyed_secrets(config: dict, listed_name: str, single_name: str) -> list[tuple[str, str]]:
    """Rotatable keys as ``(key_id, secret)``, the current one first.

    ``listed_name`` (``id:secret,id:secret``) when set, else ``single_name`` as key ``k1``
    (what everything written before key ids existed used). Each secret is checked as
    :func:`checked` says; ids must be unique and match :data:`KEY_ID_PATTERN`.
    """
    settings, demo = _settings(config), demo_mode(config)
    listed = str(settings.get(listed_name) or "").strip()
    if not listed:
        return [(LEGACY_KEY_ID, checked(single_name, settings.get(single_name), demo))]
    keys: list[tuple[str, str]] = []
    for item in listed.split(","):
        key_id, colon, value = item.strip().partition(":")
        if not colon or not KEY_ID_PATTERN.fullmatch(key_id):
            raise DevelopmentSecretError(
                f"{listed_name} must be 'id:secret,id:secret' (ids of letters, digits, - or _), "
                f"got an item starting {item.strip()[:3]!r}"
            )
        if key_id in dict(keys):
            raise DevelopmentSecretError(f"{listed_name} names key {key_id!r} twice")
        keys.append((key_id, checked(f"{listed_name}[{key_id}]", value, demo)))
    return keys


def id_number_keys(config: dict) -> list[tuple[str, str]]:
    """The ID-number keys: ``ID_NUMBER_KEYS``, else ``ID_NUMBER_KEY`` as ``k1``
    (:func:`keyed_secrets`)."""
    return keyed_secrets(config, "ID_NUMBER_KEYS", "ID_NUMBER_KEY")


def audit_keys(config: dict) -> list[tuple[str, str]]:
    """The audit trail's MAC keys: ``AUDIT_KEYS``, else ``AUDIT_KEY`` as ``k1``
    (:func:`keyed_secrets`)."""
    return keyed_secrets(config, "AUDIT_KEYS", "AUDIT_KEY")


def id_lookup_secret(config: dict) -> str:
    """The secret of the ID numbers' lookup hash (repeat visits are found by it).

    The hash is stored beside every case and searched on, so it must not change when the
    encryption key rotates: rotating is meant to retire a key, and a hash tied to the current
    key would split every applicant's history at the rotation. So it has its own setting,
    ``ID_LOOKUP_KEY``; when that is empty it is the secret of key ``k1`` — the first key ever
    (``ID_NUMBER_KEY``), which is what every hash stored so far was made with. With neither (k1
    retired and no ``ID_LOOKUP_KEY``) the process refuses to start rather than silently start
    a second series of hashes.
    """
    settings, demo = _settings(config), demo_mode(config)
    if str(settings.get("ID_LOOKUP_KEY") or "").strip():
        return checked("ID_LOOKUP_KEY", settings["ID_LOOKUP_KEY"], demo)
    first_key = dict(id_number_keys(config)).get(LEGACY_KEY_ID)
    if first_key is None:
        raise DevelopmentSecretError(
            f"ID_LOOKUP_KEY is not set and ID_NUMBER_KEYS has no key {LEGACY_KEY_ID!r}: set "
            "ID_LOOKUP_KEY to the secret the stored lookup hashes were made with (the first "
            "ID-number key), so repeat visits are still found"
        )
    return first_key


def refuse_development_secrets(config: dict) -> None:
    """Stop a process that would run outside demo mode with a missing or development secret.

    Called by the service container before any extension starts; checks every secret of
    :data:`SECRETS`, the ID-number keys, their lookup key and the audit keys. In demo mode it
    only says so.
    """
    if demo_mode(config):
        log.warning(
            "demo mode (%s=1): development secrets are allowed; never serve real cases this way",
            DEMO_ENVIRONMENT_VARIABLE,
        )
        return
    for name in SECRETS:
        secret(config, name)
    id_lookup_secret(config)  # reads the ID-number keys too
    audit_keys(config)
