-- depends: 0007_login_throttle_and_sessions
-- Intake's copy of coordination's standard practices (issue 16), kept from its
-- practice_promoted events, so a registration shows its matter's practices without an RPC to
-- coordination per case. practices_synced: whether the practices promoted before intake
-- consumed those events were copied once from coordination (services.intake.handlers
-- sync_practices; a practice never changes once promoted, so the copy and the events agree).
CREATE TABLE intake.practices (
    practice_id bigint PRIMARY KEY,
    matter_code text NOT NULL,
    windows text[] NOT NULL DEFAULT '{}',
    title text NOT NULL,
    description text,
    source_case_no text,
    created_by text,
    created_at timestamptz
);
CREATE INDEX intake_practices_matter ON intake.practices (matter_code, practice_id DESC);

CREATE TABLE intake.practices_synced (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    synced_at timestamptz NOT NULL
);
