-- depends: 0006_hr_role
-- Logins (DESIGN §7): each failed login is kept for a while, so that every gateway and intake
-- instance throttles the same account and address; and each staff member has a session version,
-- raised by a logout or a password change, which every token of the older version fails.

ALTER TABLE intake.staff ADD COLUMN session_version integer NOT NULL DEFAULT 1;

CREATE TABLE intake.login_failures (
    id bigserial PRIMARY KEY,
    account text NOT NULL,
    address text,
    failed_at timestamptz NOT NULL
);
CREATE INDEX login_failures_by_account ON intake.login_failures (account, failed_at);
CREATE INDEX login_failures_by_address ON intake.login_failures (address, failed_at);
