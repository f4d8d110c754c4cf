-- depends: 0002_first_responsibility
-- Helpers kept on a case, investigations of `refused` cases, findings, sanctions, appeals.

ALTER TABLE accountability.first_responsibility ADD COLUMN closed_at timestamptz;

CREATE TABLE accountability.case_helpers (
    case_no  text NOT NULL,
    staff_id text NOT NULL,
    added_by text,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (case_no, staff_id)
);
CREATE INDEX case_helpers_staff ON accountability.case_helpers (staff_id);

-- one investigation per refused case: the case number is the natural key
CREATE TABLE accountability.investigations (
    id             bigserial PRIMARY KEY,
    case_no        text NOT NULL UNIQUE,
    site_code      text,
    department     text,
    matter         text,
    first_receiver text,
    reason         text,
    classified_by  text,
    opened_at      timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at      timestamptz
);
CREATE INDEX investigations_status ON accountability.investigations (status, id);

CREATE TABLE accountability.findings (
    id               bigserial PRIMARY KEY,
    investigation_id bigint NOT NULL UNIQUE REFERENCES accountability.investigations (id),
    case_no          text NOT NULL,
    staff_id         text,
    cause            text CHECK (cause IN ('unfamiliar', 'process', 'attitude')),
    no_fault         boolean NOT NULL,
    finding          text NOT NULL,
    department       text,
    period           text NOT NULL,
    found_on         date NOT NULL,
    recorded_by      text NOT NULL,
    recorded_at      timestamptz NOT NULL,
    -- an upheld appeal overturns a finding: it no longer counts as a strike
    status           text NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'overturned')),
    CHECK (no_fault OR (staff_id IS NOT NULL AND cause IS NOT NULL))
);
CREATE INDEX findings_staff ON accountability.findings (staff_id, found_on);

CREATE TABLE accountability.sanctions (
    id            bigserial PRIMARY KEY,
    finding_id    bigint NOT NULL REFERENCES accountability.findings (id),
    staff_id      text NOT NULL,
    kind          text NOT NULL,
    strike_no     integer NOT NULL,
    period        text NOT NULL,
    status        text NOT NULL CHECK (status IN ('applied', 'recommended', 'confirmed', 'revoked')),
    applied_at    timestamptz NOT NULL,
    confirmed_by  text,
    confirmed_at  timestamptz,
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX sanctions_staff ON accountability.sanctions (staff_id, status);
-- a finding carries each kind of sanction at most once while it stands
CREATE UNIQUE INDEX sanctions_live ON accountability.sanctions (finding_id, kind)
    WHERE status <> 'revoked';

CREATE TABLE accountability.improvement_actions (
    id         bigserial PRIMARY KEY,
    finding_id bigint NOT NULL UNIQUE REFERENCES accountability.findings (id),
    department text,
    action     text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE accountability.appeals (
    id              bigserial PRIMARY KEY,
    finding_id      bigint NOT NULL UNIQUE REFERENCES accountability.findings (id),
    staff_id        text NOT NULL,
    filed_by        text NOT NULL,
    reason          text NOT NULL,
    filed_at        timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'upheld', 'rejected')),
    decided_by      text,
    decided_at      timestamptz,
    decision_reason text
);
