"""The forms on a case's page: each one RPC, offered by what the services say the case allows.

Which of coordination's actions a case allows now, and who may take them, is coordination's
answer (``allowed_actions`` and ``acting_roles`` in its case summary, from its own state
machine); the page only turns them into forms. The return visit is intake's.
"""

from services.gateway import forms
from services.gateway.roles import ACTORS, CASE_WORKERS


class CaseAction:
    """A form on the case page that calls one RPC.

    ``payload(form)`` builds the API's body; ``args(case_no, form)`` the RPC's arguments before
    the user (by default ``case_no`` and that body).
    """

    def __init__(self, label: str, roles: tuple, service: str, method: str, payload, args=None):
        self.label, self.roles, self.service, self.method = label, roles, service, method
        self.payload = payload
        self.args = args or (lambda case_no, form: (case_no, payload(form)))

    def call(self, gateway, case_no: str, form, user: dict):
        rpc = getattr(getattr(gateway, self.service), self.method)
        return rpc(*self.args(case_no, form), user)


def _promotion_args(case_no: str, form) -> tuple:
    return ({**forms.practice_payload(form), "case_no": case_no},)


# keyed by the form's name (its template in cases/actions/ and its URL)
CASE_ACTIONS = {
    "classify": CaseAction(
        "分类", ("officer",), "coordination", "classify_case", forms.classify_payload
    ),
    "explain": CaseAction(
        "不能办：说明依据并解释", ACTORS, "coordination", "explain", forms.explain_payload
    ),
    "measure": CaseAction(
        "不好办：协调措施", ACTORS, "coordination", "add_measure", forms.measure_payload
    ),
    "measure-response": CaseAction(
        "记录部门答复",
        ACTORS,
        "coordination",
        "record_measure_response",
        forms.measure_response_payload,
        forms.measure_response_args,
    ),
    "reply": CaseAction("答复申请人", ACTORS, "coordination", "reply", forms.reply_payload),
    "resolve": CaseAction("办结", ACTORS, "coordination", "resolve", forms.resolve_payload),
    "close": CaseAction("关闭", ACTORS, "coordination", "close", forms.reason_payload),
    "archive": CaseAction("归档", ACTORS, "coordination", "archive", forms.reason_payload),
    "reopen": CaseAction("重新打开", ACTORS, "coordination", "reopen", forms.reason_payload),
    "promote": CaseAction(
        "推广为常态化做法",
        ACTORS,
        "coordination",
        "promote_practice",
        forms.practice_payload,
        _promotion_args,
    ),
    "return-visit": CaseAction(
        "记录回访", CASE_WORKERS, "intake", "record_return_visit", forms.return_visit_payload
    ),
}


# -- the 差评 loop of a case a bad rating opened (coordination's bad_ratings) ----------------


def _bad_rating_level(form):
    value = forms.text_value(form, "level")
    return int(value) if value.isdigit() else value or None


BAD_RATING_ACTIONS = {
    "bad-rating-verify": CaseAction(
        "核实差评",
        ("officer",),
        "coordination",
        "verify_bad_rating",
        lambda form: {
            "finding": form.get("finding") or None,
            "reason": forms.text_value(form, "reason"),
        },
    ),
    "bad-rating-appeal": CaseAction(
        "对核实结果申诉",
        CASE_WORKERS,
        "coordination",
        "appeal_bad_rating",
        lambda form: {"reason": forms.text_value(form, "reason")},
    ),
    "bad-rating-appeal-decision": CaseAction(
        "决定差评申诉",
        ("supervisor",),
        "coordination",
        "decide_bad_rating_appeal",
        lambda form: {
            "upheld": forms.yes_no(form.get("upheld")),
            "reason": forms.text_value(form, "reason"),
        },
    ),
    "bad-rating-rectify": CaseAction(
        "记录整改",
        ("officer",),
        "coordination",
        "rectify_bad_rating",
        lambda form: {"measures": forms.text_value(form, "measures")},
    ),
    "bad-rating-answer": CaseAction(
        "反馈评价人",
        ("officer",),
        "coordination",
        "answer_bad_rating",
        lambda form: {"summary": forms.text_value(form, "summary")},
    ),
    "bad-rating-re-rating": CaseAction(
        "记录再评价",
        ("officer",),
        "coordination",
        "re_rate_bad_rating",
        lambda form: {"level": _bad_rating_level(form), "text": forms.text_value(form, "text")},
    ),
}
CASE_ACTIONS.update(BAD_RATING_ACTIONS)


def bad_rating_steps(user: dict, loop: dict) -> list[str]:
    """The loop's forms this user gets now: the steps its state allows, to the roles it names
    (an appeal to the rated staff member alone); never a decision on one's own appeal, one's
    own verification or a rating of oneself (coordination refuses them too)."""
    offered = []
    for step in loop["allowed_actions"]:
        roles = loop["acting_roles"][step]
        if roles is None:
            permitted = user["id"] == loop["rated_staff"]
        else:
            permitted = user["role"] in roles
        if step == "verify" and user["id"] == loop["rated_staff"]:
            permitted = False
        if step == "appeal_decision":
            deciders_excluded = {
                (loop["appeal"] or {}).get("filed_by"),
                (loop["verification"] or {}).get("actor"),
                loop["rated_staff"],
            }
            permitted = permitted and user["id"] not in deciders_excluded
        if permitted:
            offered.append(f"bad-rating-{form_name(step)}")
    return offered


def form_name(action: str) -> str:
    """Coordination's ``measure_response`` is the ``measure-response`` form."""
    return action.replace("_", "-")


def offered_actions(user: dict, case: dict, flow: dict | None = None) -> list[str]:
    """The action forms the case page shows this user now; the services check again.

    ``flow`` is coordination's summary of the case: the actions it allows now, to the roles it
    names. Without it (coordination does not know the case) only intake's actions show.
    """
    offered = []
    if flow is not None and user["role"] in flow["acting_roles"]:
        offered = [form_name(action) for action in flow["allowed_actions"]]
    if case.get("requires_return_visit") and user["role"] in CASE_WORKERS:
        offered.append("return-visit")
    if case.get("bad_rating"):
        offered += bad_rating_steps(user, case["bad_rating"])
    return [name for name in offered if name in CASE_ACTIONS]
