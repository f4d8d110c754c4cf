-- depends: 0001_infrastructure
-- Reporting's read model: one fact row per case, fed by events.

CREATE TABLE reporting.case_facts (
    case_no         text PRIMARY KEY,
    site_code       text NOT NULL,
    window_code     text NOT NULL,
    matter_code     text NOT NULL,
    department_code text NOT NULL,
    channel         text NOT NULL,
    received_at     timestamptz NOT NULL,
    month           date NOT NULL,
    state           text NOT NULL DEFAULT 'registered',
    counted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_facts_month ON reporting.case_facts (month, site_code);
