-- depends: 0002_case_facts
-- Read models rebuildable by replay: every consumed event is kept in event_log, and the tables
-- below are a function of it (services.reporting.projection). case_facts had no log behind it
-- and a nondeterministic column, so it gives way to reporting.cases.

DROP TABLE reporting.case_facts;

CREATE TABLE reporting.event_log (
    position       bigserial PRIMARY KEY,
    event_id       uuid NOT NULL UNIQUE,
    event_type     text NOT NULL,
    source_service text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    payload        jsonb NOT NULL,
    logged_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per case: every timestamp the ledger shows and its deadlines (no clear ID number
-- ever reaches reporting: only intake's masked value).
CREATE TABLE reporting.cases (
    case_no                text PRIMARY KEY,
    site                   text,
    window_code            text,
    matter                 text,
    department             text,
    channel                text,
    applicant_kind         text,
    id_number_masked       text,
    first_receiver         text,
    received_at            timestamptz,
    month                  date,
    state                  text,
    state_at               timestamptz,
    type                   text,
    complex                boolean,
    reason                 text,
    finding_cause          text,
    classified_at          timestamptz,
    explained_at           timestamptz,
    replied_at             timestamptz,
    reply_due_at           timestamptz,
    reply_on_time          boolean,
    working_days_taken     integer,
    resolved_at            timestamptz,
    outcome                text,
    closed_at              timestamptz,
    archived_at            timestamptz,
    meeting_id             text,
    return_visit_satisfied boolean,
    deadlines              jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- the ledger reads a period in (received_at, case_no) order, in batches
CREATE INDEX cases_ledger ON reporting.cases (received_at, case_no);
CREATE INDEX cases_site_ledger ON reporting.cases (site, received_at, case_no);

CREATE TABLE reporting.joint_meetings (
    meeting_id       text PRIMARY KEY,
    case_nos         text[] NOT NULL DEFAULT '{}',
    replied_case_nos text[] NOT NULL DEFAULT '{}',
    scheduled_at     timestamptz,
    reply_due_at     timestamptz,
    complex          boolean,
    convened_at      timestamptz,
    minuted_at       timestamptz,
    reply_breached   boolean NOT NULL DEFAULT false
);

-- The monthly summary reads these counters, never the cases: (month, site, dimension, key).
-- dimension: cases, type, channel, department, matter, window, situation, headline, reply,
-- reply_days (a histogram of working days, for exact percentiles), rating, return_visit,
-- suggestion.
CREATE TABLE reporting.monthly_counts (
    month     date NOT NULL,
    site      text NOT NULL,
    dimension text NOT NULL,
    key       text NOT NULL,
    value     bigint NOT NULL,
    PRIMARY KEY (month, site, dimension, key)
);

-- The deadline picture behind /metrics: one row per metric and label set, so a scrape reads
-- this small table whatever the number of cases.
CREATE TABLE reporting.gauges (
    metric text NOT NULL,
    labels jsonb NOT NULL,
    value  bigint NOT NULL,
    PRIMARY KEY (metric, labels)
);
