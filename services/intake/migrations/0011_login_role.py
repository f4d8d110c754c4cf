"""The intake service logs in to PostgreSQL as bancheng_intake, a role of its own (issue 12)."""

from services.common.schema import login_role_steps

__depends__ = {"0007_login_throttle_and_sessions"}

steps = login_role_steps("intake")
