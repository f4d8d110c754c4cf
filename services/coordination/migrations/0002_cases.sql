-- depends: 0001_infrastructure
-- Coordination's own record of every registered case: where it stands in its flow.

CREATE TABLE coordination.cases (
    case_no         text PRIMARY KEY,
    site_code       text NOT NULL,
    matter_code     text NOT NULL,
    department_code text NOT NULL,
    channel         text NOT NULL,
    received_at     timestamptz NOT NULL,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'registered',
    case_type       text CHECK (case_type IN ('cannot', 'hard', 'refused', 'pending')),
    complex         boolean NOT NULL DEFAULT false
);
CREATE INDEX coordination_cases_state ON coordination.cases (state);
