"""The reporting service logs in to PostgreSQL as bancheng_reporting, a role of its own (issue 12)."""

from services.common.schema import login_role_steps

__depends__ = {"0004_one_cause_wording"}

steps = login_role_steps("reporting")
