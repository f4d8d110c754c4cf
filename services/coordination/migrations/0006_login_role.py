"""The coordination service logs in to PostgreSQL as bancheng_coordination, a role of its own (issue 12)."""

from services.common.schema import login_role_steps

__depends__ = {"0003_flows_and_deadlines"}

steps = login_role_steps("coordination")
