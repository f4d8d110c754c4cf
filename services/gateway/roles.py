"""Which roles (DESIGN §2) may open which part of the front door.

The services check every call again; these groups decide what the front door offers and which
routes answer 403 before any RPC. Who may act on one case is coordination's answer
(``acting_roles`` in its case summary), not a group here.
"""

# the windows that receive people: they open the registration form
REGISTRARS = ("window_staff", "officer")
# everyone who works on cases (helpers beside the first receiver, return visits)
CASE_WORKERS = ("window_staff", "officer", "bureau", "supervisor")
# officers work every case, the approval bureau the `pending` ones: the queue is theirs
ACTORS = ("officer", "bureau")
MEETING_READERS = ("officer", "bureau", "supervisor")
SCORE_READERS = ("supervisor", "bureau")
# separated duties (DESIGN §2): supervisors decide appeals, HR (人事) confirms or rejects the
# dismissals findings recommend; both work on the /appeals page, each with its own forms
APPEAL_DECIDERS = ("supervisor",)
SANCTION_DECIDERS = ("hr",)
ACCOUNTABILITY_DESK = APPEAL_DECIDERS + SANCTION_DECIDERS
