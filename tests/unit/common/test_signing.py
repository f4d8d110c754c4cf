"""Caller assertions, sealed bodies and event signatures (services.common.signing)."""

import pytest

from services.common import signing
from services.common.secrets import DevelopmentSecretError

KEY = b"k" * 32
USER = {"id": "S0001", "role": "window", "site": "HALL", "name": "王"}


def assertion(**changes):
    options = dict(caller="gateway", target="intake.get_case", body_digest="d", user=USER, ttl=5)
    options.update(changes)
    return signing.sign_assertion(KEY, now=1000.0, **options)


def test_an_assertion_verifies_for_its_call_and_names_the_acting_user():
    payload = signing.verify_assertion(
        KEY, assertion(), target="intake.get_case", body_digest="d", now=1004.0
    )
    assert payload["user"] == {"id": "S0001", "role": "window", "site": "HALL"}
    assert payload["svc"] == "gateway"


@pytest.mark.parametrize(
    "token, target, body, now",
    [
        (None, "intake.get_case", "d", 1001.0),
        (assertion(), "intake.get_case", "d", 1006.0),  # expired
        (assertion(), "intake.list_cases", "d", 1001.0),  # another method
        (assertion(), "intake.get_case", "other", 1001.0),  # another body
        (assertion().replace(".", ".x", 1), "intake.get_case", "d", 1001.0),  # edited
    ],
)
def test_an_assertion_not_for_this_call_is_refused(token, target, body, now):
    with pytest.raises(signing.InvalidAssertion):
        signing.verify_assertion(KEY, token, target=target, body_digest=body, now=now)


def test_the_actor_must_be_the_asserted_user():
    asserted = signing.acting_user(USER)
    assert signing.actor_matches(asserted, dict(USER))
    assert signing.actor_matches(asserted, None)
    assert not signing.actor_matches(asserted, {**USER, "role": "supervisor"})
    assert not signing.actor_matches(None, USER)


def test_a_sealed_body_opens_only_with_its_key():
    sealed = signing.seal(KEY, {"id_number": "110101199003074518"})
    assert "110101199003074518" not in sealed
    assert signing.unseal(KEY, sealed) == {"id_number": "110101199003074518"}
    with pytest.raises(signing.InvalidSeal):
        signing.unseal(b"x" * 32, sealed)


def test_the_assertion_key_has_a_development_value_in_demo_mode_only():
    assert (
        signing.assertion_key({"BANCHENG": {"DEMO": True}}) == signing.DEMO_ASSERTION_KEY.encode()
    )
    with pytest.raises(DevelopmentSecretError, match="SERVICE_ASSERTION_KEY"):
        signing.assertion_key({"BANCHENG": {"DEMO": False, "SERVICE_ASSERTION_KEY": ""}})
    with pytest.raises(DevelopmentSecretError):
        signing.assertion_key(
            {"BANCHENG": {"DEMO": False, "SERVICE_ASSERTION_KEY": signing.DEMO_ASSERTION_KEY}}
        )


def test_an_event_verifies_only_with_its_sources_key():
    keys = signing.event_public_keys({"BANCHENG": {"DEMO": True}})
    envelope = {"event_id": "e1", "source": "intake", "data": {"case_no": "C1"}}
    signature = signing.sign_event(signing.demo_event_key("intake"), envelope)
    signing.verify_event(keys, "intake", envelope, signature)
    with pytest.raises(signing.BadEventSignature) as forged:
        signing.verify_event(keys, "intake", {**envelope, "data": {"case_no": "C2"}}, signature)
    assert forged.value.reason == "bad_signature"
    with pytest.raises(signing.BadEventSignature) as other:
        signing.verify_event(keys, "coordination", envelope, signature)
    assert other.value.reason == "bad_signature"
    with pytest.raises(signing.BadEventSignature) as unsigned:
        signing.verify_event(keys, "intake", envelope, None)
    assert unsigned.value.reason == "unsigned"


def test_event_keys_are_refused_outside_demo_mode_when_unset():
    with pytest.raises(DevelopmentSecretError, match="EVENT_SIGNING_KEY_INTAKE"):
        signing.event_signing_key({"BANCHENG": {"DEMO": False}}, "intake")


# --- replay: each assertion has an id, admitted once per process until it expires -------


def verified(token, now=1001.0):
    return signing.verify_assertion(KEY, token, target="intake.get_case", body_digest="d", now=now)


def test_every_assertion_carries_an_id_of_its_own():
    first, second = verified(assertion()), verified(assertion())
    assert first["id"] and second["id"] and first["id"] != second["id"]


def test_an_assertion_without_an_id_is_refused():
    import base64
    import hashlib
    import hmac
    import json

    payload = {"svc": "gateway", "to": "intake.get_case", "user": None, "exp": 2000, "body": "d"}
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    mac = hmac.new(KEY, f"a1.{encoded}".encode(), hashlib.sha256).digest()
    token = f"a1.{encoded}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(signing.InvalidAssertion, match="no id"):
        verified(token)


def test_the_guard_admits_an_assertion_once():
    guard = signing.ReplayGuard()
    payload = verified(assertion())
    guard.admit(payload, now=1001.0)
    with pytest.raises(signing.ReplayedAssertion, match="used before"):
        guard.admit(payload, now=1002.0)
    guard.admit(verified(assertion()), now=1002.0)  # another request
    assert len(guard) == 2


def test_the_broker_redelivering_an_admitted_request_is_no_replay():
    """A request whose first delivery was never acknowledged (the connection or its node lost)
    comes again with the broker's redelivered flag: it runs again; a copy published by a client
    (no flag) is still refused, before and after the redelivery."""
    guard = signing.ReplayGuard()
    payload = verified(assertion())
    guard.admit(payload, now=1001.0)
    guard.admit(payload, now=1002.0, redelivered=True)
    with pytest.raises(signing.ReplayedAssertion):
        guard.admit(payload, now=1003.0)
    assert len(guard) == 1


def test_the_guard_forgets_ids_once_their_assertions_expired():
    guard = signing.ReplayGuard()
    for _ in range(50):
        guard.admit(verified(assertion()), now=1001.0)  # each expires at 1005
    assert len(guard) == 50
    guard.admit(verified(assertion(ttl=60), now=1010.0), now=1010.0)
    assert len(guard) == 1


def test_a_full_guard_refuses_rather_than_forget_an_unexpired_id():
    guard = signing.ReplayGuard(capacity=3)
    payloads = [verified(assertion()) for _ in range(3)]
    for payload in payloads:
        guard.admit(payload, now=1001.0)
    with pytest.raises(signing.ReplayedAssertion, match="unexpired"):
        guard.admit(verified(assertion()), now=1001.0)
    with pytest.raises(signing.ReplayedAssertion, match="used before"):
        guard.admit(payloads[0], now=1001.0)
    guard.admit(verified(assertion(ttl=60)), now=1006.0)  # the three expired meanwhile
    assert len(guard) == 1
