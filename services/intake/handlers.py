"""Intake's use cases, each in one unit of work (no SQL, no cursor, no nameko).

A use case reads and changes state through ``uow.store``, takes the time from ``uow.now()``,
asks the domain (and the channels) for the rules and records each decision with
``uow.record(...)``: the event and its timeline entry are committed with the state change or
not at all. What each decision says: :mod:`services.intake.events`.

Every case, from any channel and one at a time or a batch's, is opened by :func:`_open_cases`:
the same ID-number protection, repeat-visit links, numbering and ``case_registered`` event.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.common import paging
from services.common.errors import InvalidField, NotFound, TooManyRequests, Unauthorized
from services.intake import channels, domain, events, integrations, logins
from services.intake.domain import CaseRecord, NewCase


@dataclass(frozen=True)
class Registrar:
    """What opening cases needs besides the unit of work.

    ``reserve_case_numbers(day, site, count)`` takes ``count`` numbers of ``day`` at ``site``
    and returns the first, in a short transaction of its own (intake's side pool): the counter
    row is
    then locked for one short commit instead of for a whole registration, which serialised
    every registration of the district. The price: a registration failing after it (only a
    database error can, the form was checked before) leaves a gap in that day's numbers.
    ``protect(id_number, kind)`` gives what is stored of an ID number
    (:func:`services.intake.personal_data.protect`). ``received_at_max_back``: how far back
    a form's ``received_at`` may lie without an officer's ``backdate_reason``.

    Site nodes (docs/network.md): ``site_node`` is the site this intake is the node of (None:
    the district's intake), ``site_nodes`` the district's list of sites that run their own node
    (code → front door), refused here; ``seal``/``unseal`` the services' sealing of a case
    copied from a site node to the district.
    """

    reserve_case_numbers: Callable[[date, str, int], int]
    protect: Callable[[str | None, str | None], dict]
    repeat_window: timedelta
    received_at_max_back: timedelta = timedelta(days=3)
    site_node: str | None = None
    site_nodes: dict = field(default_factory=dict)
    seal: Callable[[object], str] | None = None
    unseal: Callable[[str], object] | None = None


# -- identity and reference data -------------------------------------------------------------


def authenticate(
    uow, credentials: logins.Credentials, username: str, password: str, address: str | None = None
) -> dict:
    """The staff member with these credentials (without the password hash).

    Refused with a 429 while the account or the address has failed too often (every instance
    counts the same failures: they are in intake's database); an unknown username costs the
    same password check as a known one. The password is checked outside any transaction.
    """
    account, policy = (username or "")[:200], credentials.policy
    now = uow.now()
    with uow.begin():
        failures = uow.store.login_failures_since(account, address, now - policy.window)
        minutes = logins.minutes_locked(*failures, now, policy)
        staff = uow.store.staff_by_username(account) if minutes is None else None
    if minutes is not None:
        raise TooManyRequests(logins.refusal_message(minutes))
    stored = staff["password_hash"] if staff else None
    if not credentials.check(password or "", stored):
        with uow.begin():
            uow.store.record_login_failure(account, address, now, now - policy.window * 4)
        raise Unauthorized("用户名或密码不正确")
    with uow.begin():
        uow.store.clear_login_failures(account)
    staff.pop("password_hash")
    return staff


def session_version(uow, staff_id: str) -> int | None:
    """The staff member's current session version (None: no such staff member)."""
    with uow.begin():
        return uow.store.session_version(staff_id)


def end_sessions(uow, staff_id: str) -> int | None:
    """Log the staff member out everywhere: the new session version."""
    with uow.begin():
        return uow.store.end_sessions(staff_id)


def change_password(
    uow, credentials: logins.Credentials, staff_id: str, current: str, new: str
) -> None:
    """A new password after the current one is given again; every session ends with it."""
    refusal = logins.new_password_refusal(current or "", new or "")
    if refusal:
        raise InvalidField(refusal, "new_password")
    with uow.begin():
        stored = uow.store.password_hash(staff_id)
    if not credentials.check(current or "", stored):
        raise InvalidField("当前密码不正确", "current_password")
    new_hash = credentials.make_hash(new)
    with uow.begin():
        uow.store.set_password(staff_id, new_hash)


def sites(uow) -> list[dict]:
    with uow.begin():
        return uow.store.sites()


def departments(uow) -> list[dict]:
    with uow.begin():
        return uow.store.departments()


def matters(uow, site: str | None = None) -> list[dict]:
    with uow.begin():
        return uow.store.matters(site)


def staff(uow, site: str | None = None) -> list[dict]:
    with uow.begin():
        return uow.store.staff(site)


# -- registration, from every channel --------------------------------------------------------


def register_case(
    uow, registrar: Registrar, payload: dict, actor: dict, idempotency_key: str | None
) -> dict:
    """Register a case from the form; the same ``idempotency_key`` always returns the same
    case (``replayed``: true), retries waiting on the key until the first one committed.

    Keys are the clients' own and one table holds them all, so a key that already opened a
    case the actor may not see answers 409 Conflict (never that case, nor a second case
    under the same key)."""
    domain.check_registrar(actor)
    domain.check_form_channel(payload)
    with uow.begin():
        now = uow.now()
        # the applicant's earlier cases are read with the rest, before the form is checked
        id_number, kind, received_at = domain.form_applicant(payload, now)
        protected = registrar.protect(id_number, kind) if id_number else {}
        since = received_at - registrar.repeat_window if received_at else None
        reads = uow.store.registration_reads(
            payload, idempotency_key, protected.get("hash"), since, PRACTICES_PAGE
        )
        if reads["existing"]:
            view = _case_view(uow, reads["existing"])
            domain.check_replay(actor, view)
            return {**view, "replayed": True, "practices": _practices(uow, view["matter"])}
        reference = reads["reference"]
        registration = domain.check_registration(payload, reference, actor, now)
        registration = domain.check_backdating(
            registration, payload, actor, now, registrar.received_at_max_back
        )
        new_case = NewCase(registration, idempotency_key=idempotency_key)
        read_ahead = (registration.id_number, registration.applicant_kind) == (id_number, kind)
        read_ahead = read_ahead and registration.received_at == received_at
        prefetched = ([protected], reads["earlier"]) if read_ahead else None
        # the case goes with the COMMIT: nothing reads it back, the answer is what was written
        [record] = _open_case_records(uow, registrar, [new_case], actor, prefetched, True)
        if prefetched is None:  # the guess missed: read it all back
            view = _case_view(uow, record.case_no)
            return {**view, "replayed": False, "practices": _practices(uow, view["matter"])}
        case = domain.registered_case(record, reference, reads["now"])
        earlier = reads["earlier"].get((protected.get("hash"), registration.matter), [])
        links = [
            {"case_no": case_no, "received_at": at}
            for case_no, at in earlier
            if case_no in record.repeat_of
        ]
        view = domain.case_view(case, links, [], [])
        return {**view, "replayed": False, "practices": reads["practices"]}


def _open_cases(uow, registrar: Registrar, new_cases: list[NewCase], actor: dict) -> list[str]:
    """Store and announce new cases (one, or a batch's in one go); returns their numbers.

    A repeat visit is the same applicant (ID number) with the same matter within the repeat
    window, counting cases opened earlier in the same batch.
    """
    records = _open_case_records(uow, registrar, new_cases, actor)
    return [record.case_no for record in records]


def _open_case_records(
    uow,
    registrar: Registrar,
    new_cases: list[NewCase],
    actor: dict,
    prefetched: tuple[list[dict], dict] | None = None,
    last_write: bool = False,
) -> list[CaseRecord]:
    """:func:`_open_cases`, returning the stored records. ``prefetched``: the cases' protected
    ID numbers and their applicants' earlier cases (received since the oldest's
    ``received_at`` less the repeat window), read already; ``last_write``: the caller writes
    nothing that needs the cases stored before the commit (they go with it)."""
    if not new_cases:
        return []
    if prefetched is not None:
        protections, earlier = prefetched
    else:
        protections = [
            registrar.protect(case.registration.id_number, case.registration.applicant_kind)
            for case in new_cases
        ]
        hashes = [protected["hash"] for protected in protections if protected]
        earlier = {}
        if hashes:
            oldest = min(case.registration.received_at for case in new_cases)
            earlier = uow.store.earlier_cases(hashes, oldest - registrar.repeat_window)
    day = domain.local_day(uow.now())
    sequences = _case_sequences(registrar, day, [case.registration.site for case in new_cases])
    records = []
    for new_case, protected in zip(new_cases, protections, strict=True):
        registration = new_case.registration
        sequence = next(sequences[registration.site])
        case_no = domain.case_number(domain.DISTRICT_CODE, day, sequence, registration.site)
        repeat_of = []
        if protected:
            found = earlier.setdefault((protected["hash"], registration.matter), [])
            repeat_of = domain.repeat_visits(
                found, registration.received_at, registrar.repeat_window
            )
            found.append((case_no, registration.received_at))
        records.append(CaseRecord(case_no, new_case, actor["id"], protected, repeat_of))
    uow.store.insert_cases(records, deferred=last_write)
    registered = [events.case_registered(record) for record in records]
    if len(registered) == 1:
        uow.record(registered[0])
    else:  # one event for the batch's cases: one signature, one transaction per consumer
        uow.record_batch(events.cases_registered(registered), registered)
    if registrar.site_node:
        _copy_to_district(uow, registrar, [record.case_no for record in records])
    return records


def _case_sequences(registrar: Registrar, day: date, sites: list[str]) -> dict:
    """Each site's numbers for these cases (an iterator per site), reserved per (day, site) by
    the one node that numbers the site (:func:`domain.check_numbering_node`)."""
    for site in set(sites):
        domain.check_numbering_node(site, registrar.site_node, registrar.site_nodes)
    numbers = {}
    for site in dict.fromkeys(sites):
        count = sites.count(site)
        first = registrar.reserve_case_numbers(day, site, count)
        numbers[site] = iter(range(first, first + count))
    return numbers


def _numbered_elsewhere(registrar: Registrar, accepted: list, rejected: list) -> list:
    """A batch's rows, without those that would open a case another node numbers: those are
    rejected by index like any invalid row."""
    kept = []
    for index, feedback, registration in accepted:
        try:
            if registration is not None:
                domain.check_numbering_node(
                    registration.site, registrar.site_node, registrar.site_nodes
                )
        except InvalidField as refusal:
            rejected.append({"index": index, "field": refusal.field, "message": refusal.message})
            continue
        kept.append((index, feedback, registration))
    return kept


def _copy_to_district(uow, registrar: Registrar, case_nos: list[str]) -> None:
    """A site node's new cases, sealed, for the district's intake (with the events above, in
    the same transaction: the link carries both or neither)."""
    uow.record_all(
        [
            events.site_case_recorded(copy["case_no"], copy["site_code"], registrar.seal(copy))
            for copy in uow.store.case_copies(case_nos)
        ]
    )


def record_site_case(uow, registrar: Registrar, event: dict) -> bool:
    """The district's copy of a case a site node registered: stored with its timeline entries
    once (the event id, and the case number: a copy already here changes nothing). A site
    node ignores the copies it publishes itself."""
    if registrar.site_node:
        return False
    copy = registrar.unseal(event["data"]["copy"])
    with uow.handling_once(event) as work:
        if work is None:
            return False
        return work.store.insert_case_copy(copy)


def submit_feedback(
    uow, registrar: Registrar, payload: dict, actor: dict, idempotency_key: str | None
) -> dict:
    """One piece of feedback: it opens a case (a bad rating, a hotline complaint, a reported
    failure), or is kept as a rating or a suggestion."""
    key = _replay_key("feedback", actor, idempotency_key)
    with uow.begin():
        replayed = _replayed_answer(uow, key)
        if replayed is not None:
            return replayed
        now = uow.now()
        catalogue = uow.store.catalogue()
        feedback = channels.check_feedback(payload, catalogue, actor, now)
        feedback_id = str(uuid.uuid4())
        result = {"feedback_id": feedback_id, "channel": feedback.channel, "case_no": None}
        if feedback.opens_case:
            registration = channels.registration_of(feedback, catalogue, actor, now)
            new_case = channels.new_case(feedback, registration, feedback_id)
            [result["case_no"]] = _open_cases(uow, registrar, [new_case], actor)
            result["requires_return_visit"] = feedback.requires_return_visit
        if feedback.channel == "rating":
            uow.store.insert_ratings(None, [(feedback, result["case_no"], feedback_id)])
            uow.record(events.ratings_received(None, [feedback], feedback_id))
        elif result["case_no"]:
            uow.store.insert_complaint(feedback_id, feedback, result["case_no"], actor["id"])
        else:
            uow.store.insert_suggestion(feedback_id, feedback, actor["id"])
            uow.record(events.suggestion_recorded(feedback_id, feedback, now))
        return _answered(uow, key, result)


def submit_ratings_batch(
    uow, registrar: Registrar, payload: dict | str, actor: dict, idempotency_key: str | None
) -> dict:
    """Many ratings at once (the province-scale feed; ``payload`` as the front door hands it
    on, its JSON text, or decoded): valid rows are kept, invalid ones reported by index; bad
    ratings open cases. Rows, cases, events and timeline entries go in
    with COPY, so the batch costs a fixed number of round trips whatever its size."""
    rows = channels.batch_rows(channels.batch_payload(payload))
    key = _replay_key("ratings-batch", actor, idempotency_key)
    with uow.begin():
        replayed = _replayed_answer(uow, key)
        if replayed is not None:
            return replayed
        catalogue = uow.store.catalogue()
        accepted, rejected = channels.check_batch(rows, catalogue, actor, uow.now())
        accepted = _numbered_elsewhere(registrar, accepted, rejected)
        batch_id = str(uuid.uuid4())
        # a bad rating's id is made here, so that its case can name it
        new_cases = {
            index: channels.new_case(feedback, registration, str(uuid.uuid4()))
            for index, feedback, registration in accepted
            if registration is not None
        }
        case_nos = _open_cases(uow, registrar, list(new_cases.values()), actor)
        opened = dict(zip(new_cases, case_nos, strict=True))
        rating_ids = {index: new_case.feedback_id for index, new_case in new_cases.items()}
        uow.store.insert_ratings(
            batch_id,
            [(feedback, opened.get(i), rating_ids.get(i)) for i, feedback, _ in accepted],
        )
        if accepted:
            uow.record(events.ratings_received(batch_id, [feedback for _, feedback, _ in accepted]))
        result = {
            "batch_id": batch_id,
            "accepted": len(accepted),
            "rejected": rejected,
            "cases_opened": [
                {"index": index, "case_no": case_no, "feedback_id": rating_ids[index]}
                for index, case_no in opened.items()
            ],
        }
        return _answered(uow, key, result)


def _replay_key(kind: str, actor: dict, idempotency_key: str | None) -> str | None:
    """Where a channel's answer to ``idempotency_key`` is kept: per site, so a key reused at
    another site is a new request and never replays that site's answer."""
    if not idempotency_key:
        return None
    return f"{kind}:{actor.get('site') or '-'}:{idempotency_key}"


def _replayed_answer(uow, key: str | None) -> dict | None:
    """The answer already given to this idempotency key (None: first time, or no key); the
    key stays locked until the transaction ends, so retries queue here."""
    if not key:
        return None
    uow.store.lock_idempotency_key(key)
    saved = uow.store.feedback_response(key)
    return None if saved is None else {**saved, "replayed": True}


def _answered(uow, key: str | None, result: dict) -> dict:
    """``result``, kept for a retry with the same key."""
    if key:
        uow.store.save_feedback_response(key, result)
    return {**result, "replayed": False}


# -- reading cases ---------------------------------------------------------------------------


def get_case(uow, case_no: str, actor: dict) -> dict:
    with uow.begin():
        return _case_view(uow, case_no, actor)


def list_cases(uow, filters: dict, actor: dict) -> list[dict]:
    """Cases newest first, window staff's limited to their own site."""
    site = domain.listed_site(actor, filters.get("site"))
    case_type = domain.case_type_filter(filters.get("type"))
    overdue = domain.flag(filters.get("overdue"), "overdue")
    with uow.begin():
        return uow.store.list_cases(
            site=site,
            status=filters.get("status"),
            department=filters.get("department"),
            month=filters.get("month"),
            q=filters.get("q"),
            first_receiver=filters.get("first_receiver"),
            case_type=case_type,
            overdue=overdue,
            limit=paging.limit_from(filters.get("limit")),
            cursor=filters.get("cursor"),
        )


def case_timeline(uow, case_no: str) -> list[dict]:
    """Intake's entries on the case's timeline."""
    with uow.begin():
        return uow.store.case_timeline(case_no)


def registration_event(uow, case_no: str) -> dict | None:
    """The case's ``case_registered`` event as written to the outbox (same id: a consumer asked
    about the case before the event reached it dedupes the delivery); None for an unknown case."""
    with uow.begin():
        return uow.store.registration_event(case_no)


def _case_view(uow, case_no: str, actor: dict | None = None) -> dict:
    case = uow.store.case(case_no)
    if case is None:
        raise NotFound(f"事项 {case_no} 不存在", "case_no")
    if actor is not None:
        domain.check_reach(actor, case)
    view = domain.case_view(
        case,
        uow.store.case_links(case["repeat_of"]),
        uow.store.helpers(case_no),
        uow.store.return_visits(case_no),
    )
    if case["channel"] == integrations.CHANNEL:
        view["open311"] = uow.store.open311_of_case(case_no)
    return view


def _case_for_action(uow, case_no: str, actor: dict) -> dict:
    case = uow.store.case_for_update(case_no)
    if case is None:
        raise NotFound(f"事项 {case_no} 不存在", "case_no")
    domain.check_reach(actor, case, acting=True)
    return case


# -- first receiver, helpers, return visits -------------------------------------------------


def add_helper(uow, case_no: str, staff_id, actor: dict) -> dict:
    """Add a helper; the first receiver stays on the case (no use case changes them)."""
    staff_id = domain.helper_id(staff_id)
    with uow.begin():
        case = _case_for_action(uow, case_no, actor)
        domain.check_helper(case, staff_id, uow.store.staff_member(staff_id))
        added = uow.store.add_helper(case_no, staff_id, actor["id"])
        if added is not None:
            uow.record(events.case_helper_added(case, staff_id, actor["id"], uow.now()))
        return {
            "case_no": case_no,
            "staff_id": staff_id,
            "added": added is not None,
            "first_receiver": case["first_receiver"],
            "helpers": uow.store.helpers(case_no),
        }


def record_return_visit(uow, case_no: str, body: dict, actor: dict) -> dict:
    """Record the 回访 a real-name bad rating requires before its case may close."""
    satisfied, notes = domain.return_visit(body)
    with uow.begin():
        case = _case_for_action(uow, case_no, actor)
        domain.check_return_visit_needed(case)
        visit = uow.store.insert_return_visit(case_no, satisfied, notes, actor["id"])
        uow.record(events.return_visit_recorded(case, satisfied, notes, actor["id"], uow.now()))
        return {"case_no": case_no, "return_visit": visit}


# -- what coordination tells us: status, type and overdue for the case lists ---------------


def follow_coordination(uow, event: dict, site_nodes=()) -> bool:
    """Keep a case's status, type and overdue flag for the lists, once per event: False for a
    redelivery.

    A case of a site in ``site_nodes`` (the district's sites that run their own node) comes
    from that node's copy (:func:`record_site_case`), on a queue of its own: news of such a case
    that arrives before its copy is refused (rolled back, redelivered after a pause) rather
    than dropped."""
    with uow.handling_once(event) as work:
        if work is None:
            return False
        data, case_no = event["data"], event["data"]["case_no"]
        if domain.site_of(case_no) in site_nodes and not work.store.case_exists(case_no):
            raise domain.CaseNotCopiedYet(case_no)
        if event["type"] == "case_state_changed":
            at = domain.event_time(event)
            work.store.set_status(case_no, data["to_state"], at, data.get("type"))
        elif event["type"] == "case_classified":
            at = domain.event_time(event)
            complex_ = bool(data.get("complex"))
            work.store.set_classification(case_no, data["type"], complex_, at)
        elif event["type"] == "deadline_breached":
            work.store.mark_deadline_breached(case_no)
        if domain.answers_deadline(event):
            work.store.mark_answered(case_no)
        return True


# -- Open311 GeoReport v2 (services.intake.integrations) -------------------------------------


def open311_services(uow, jurisdiction_id=None) -> list[dict]:
    """One Open311 service per matter (of the site, when ``jurisdiction_id`` names one)."""
    with uow.begin():
        site = integrations.jurisdiction(jurisdiction_id, uow.store.open311_sites(), False)
        return [integrations.service(matter) for matter in uow.store.matters(site)]


def open311_service_definition(uow, service_code, jurisdiction_id=None) -> dict:
    with uow.begin():
        site = integrations.jurisdiction(jurisdiction_id, uow.store.open311_sites(), False)
        matters = {matter["code"]: matter for matter in uow.store.matters()}
    return integrations.service_definition(integrations.matter_at(matters, service_code, site))


def open311_submit(
    uow, registrar: Registrar, form: dict, api_key, idempotency_key: str | None = None
) -> dict:
    """File an Open311 request as a case on channel ``open311``.

    Intake checks the integrating system's key itself (the front door only passes it on) and
    that the key may file for the request's site. The same ``idempotency_key`` of the same
    system answers with the same case (the front door sends one per request, so a request
    the broker delivers twice opens one case)."""
    hashed = integrations.check_api_key(api_key)
    if not isinstance(form, dict):
        form = {}
    with uow.begin():
        integration = integrations.integration_of(uow.store.integration_by_key_hash(hashed))
        sites = uow.store.open311_sites()
        site = integrations.jurisdiction(form.get("jurisdiction_id"), sites, True)
        integrations.check_jurisdiction(integration, site)
        actor = {"id": f"open311:{integration.id}", "role": "integration", "site": site}
        key = f"open311:{integration.id}:{idempotency_key}" if idempotency_key else None
        if key:
            uow.store.lock_idempotency_key(key)
            existing = uow.store.case_no_for_idempotency_key(key)
            if existing:
                return {**_open311_answer(uow, existing), "replayed": True}
        matters = {matter["code"]: matter for matter in uow.store.matters(site)}
        matter = integrations.matter_at(matters, form.get("service_code"), site)
        request = integrations.check_request(form, site, matter)
        receiver = sites[site]["open311_receiver"]
        if not receiver:
            raise InvalidField(
                f"{sites[site]['name']}未配置 Open311 首接负责人，暂不接收 Open311 事项",
                "jurisdiction_id",
            )
        payload = integrations.registration_payload(request, matter, receiver)
        now = uow.now()
        registration = domain.check_registration(
            payload, uow.store.reference_for(payload), actor, now
        )
        [case_no] = _open_cases(uow, registrar, [NewCase(registration, idempotency_key=key)], actor)
        uow.store.insert_open311_request(case_no, integration.id, request, now)
        return {**_open311_answer(uow, case_no), "replayed": False}


def _open311_answer(uow, case_no: str) -> dict:
    case = uow.store.case(case_no)
    stored = uow.store.open311_of_case(case_no) or {}
    return {
        "service_request_id": case_no,
        "service_notice": integrations.service_notice(
            case_no, case["site_name"], case["matter_name"]
        ),
        "account_id": stored.get("account_id"),
    }


def open311_requests(uow, filters: dict) -> list[dict]:
    """GET requests: the spec's fields of Open311 requests, newest first, at most 1,000."""
    checked = integrations.checked_filters(filters, uow.now())
    with uow.begin():
        site = integrations.jurisdiction(
            (filters or {}).get("jurisdiction_id"), uow.store.open311_sites(), False
        )
        rows = uow.store.open311_requests(site=site, **checked)
    return [integrations.request_view(row) for row in rows]


def open311_request(uow, service_request_id) -> dict:
    """GET requests/{id}: one Open311 request (404 for any other case number)."""
    if not isinstance(service_request_id, str) or len(service_request_id) > 100:
        raise NotFound("service_request_id 不存在", "service_request_id")
    with uow.begin():
        rows = uow.store.open311_requests(ids=[service_request_id], limit=1)
    if not rows:
        raise NotFound(f"service_request_id {service_request_id} 不存在", "service_request_id")
    return integrations.request_view(rows[0])


# -- standard practices: intake's copy of coordination's, kept from its events --------------

PRACTICES_PAGE = paging.MAX_LIMIT


def _practices(uow, matter: str) -> list[dict]:
    """A matter's standard practices, shown with its registration (from intake's own copy: no
    call to coordination per case)."""
    return uow.store.practices_for(matter, PRACTICES_PAGE)


def _promoted_practice(data: dict) -> dict:
    """A ``practice_promoted`` event's data as the practice coordination lists."""
    return {
        "id": data["practice_id"],
        "matter": data["matter"],
        "windows": list(data.get("windows") or []),
        "title": data["title"],
        "description": data.get("description"),  # older events carry none
        "case_no": data.get("case_no"),
        "created_by": data.get("actor"),
        "created_at": data.get("at"),
    }


def record_practice(uow, event: dict) -> bool:
    """Keep a practice coordination promoted, once per event: False for a redelivery."""
    with uow.handling_once(event) as work:
        if work is None:
            return False
        work.store.add_practice(_promoted_practice(event["data"]))
        return True


def sync_practices(uow, list_page: Callable[[int | None], list[dict]]) -> int | None:
    """Copy, once, the practices coordination promoted before intake kept its copy (whose
    events intake never received); ``list_page(cursor)`` is coordination's list, newest first,
    a page at a time. Returns how many it copied; None when that was done before. A practice
    never changes once promoted, so copying one that an event also brings changes nothing."""
    with uow.begin():
        if uow.store.practices_synced():
            return None
    copied, cursor = 0, None
    while True:
        page = list_page(cursor)
        with uow.begin():
            copied += sum(uow.store.add_practice(practice) for practice in page)
        if len(page) < PRACTICES_PAGE:
            break
        cursor = page[-1]["id"]
    with uow.begin():
        uow.store.mark_practices_synced()
    return copied
