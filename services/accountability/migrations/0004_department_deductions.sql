-- depends: 0003_investigations_and_sanctions
-- Department assessment deductions (放管服考核扣分); natural_key makes a fact deduct once.

CREATE TABLE accountability.deductions (
    id                bigserial PRIMARY KEY,
    natural_key       text NOT NULL UNIQUE,
    department        text NOT NULL,
    year              integer NOT NULL,
    points            numeric(6, 2) NOT NULL,
    reason_code       text NOT NULL,
    reason            text NOT NULL,
    case_no           text,
    meeting_id        text,
    deadline_id       text,
    at                timestamptz NOT NULL,
    source_event_id   uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    status            text NOT NULL DEFAULT 'recorded' CHECK (status IN ('recorded', 'withdrawn')),
    withdrawn_by      text,
    withdrawn_at      timestamptz,
    withdrawal_reason text
);
CREATE INDEX deductions_year ON accountability.deductions (year, department);
