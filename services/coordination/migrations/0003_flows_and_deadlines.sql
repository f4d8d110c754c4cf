-- depends: 0002_cases
-- Each type's flow (classification, explanation, measures, joint meetings, reply, resolution),
-- the working-day deadlines with their clock, and the standard-practice library.

ALTER TABLE coordination.cases
    ADD COLUMN window_code           text,
    ADD COLUMN first_receiver        text,
    ADD COLUMN requires_return_visit boolean NOT NULL DEFAULT false,
    ADD COLUMN return_visit_at       timestamptz,
    ADD COLUMN classified_at         timestamptz,
    ADD COLUMN classified_by         text,
    ADD COLUMN classification_reason text,
    ADD COLUMN explanation           jsonb,
    ADD COLUMN reply                 jsonb,
    ADD COLUMN resolution            jsonb,
    ADD COLUMN state_changed_at      timestamptz;

CREATE TABLE coordination.measures (
    id          bigserial PRIMARY KEY,
    case_no     text NOT NULL REFERENCES coordination.cases (case_no),
    measure     text NOT NULL CHECK (measure IN
                    ('deferred_materials', 'commitment', 'video_verification', 'data_sharing')),
    departments text[] NOT NULL,
    details     text NOT NULL,
    materials   jsonb NOT NULL DEFAULT '[]'::jsonb,
    due         date,
    actor       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coordination_measures_case ON coordination.measures (case_no);

CREATE TABLE coordination.measure_responses (
    id          bigserial PRIMARY KEY,
    measure_id  bigint NOT NULL REFERENCES coordination.measures (id),
    department  text NOT NULL,
    response    text NOT NULL,
    delivered   boolean NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coordination_measure_responses_measure ON coordination.measure_responses (measure_id);

CREATE TABLE coordination.joint_meetings (
    id           bigserial PRIMARY KEY,
    case_nos     text[] NOT NULL,
    departments  text[] NOT NULL,
    scheduled_at timestamptz NOT NULL,
    complex      boolean NOT NULL,
    reply_due_at timestamptz,
    convened_by  text NOT NULL,
    convened_at  timestamptz NOT NULL DEFAULT now(),
    minutes      jsonb,
    minuted_by   text,
    minuted_at   timestamptz
);
CREATE INDEX coordination_joint_meetings_cases ON coordination.joint_meetings USING gin (case_nos);

-- One row per deadline. ``counting_from`` + ``days_to_count`` always give ``due_at`` on the
-- current calendar, so a provisional deadline (a year nobody loaded) can be recomputed and a
-- resumed one counts its remaining days from the resume.
CREATE TABLE coordination.deadlines (
    id             bigserial PRIMARY KEY,
    case_no        text NOT NULL,
    kind           text NOT NULL,
    stage          text,
    start_event    text,
    working_days   integer,
    counting_from  timestamptz,
    days_to_count  integer,
    due_at         timestamptz NOT NULL,
    warn_at        timestamptz NOT NULL,
    warning_share  double precision,
    provisional    boolean NOT NULL DEFAULT false,
    unknown_years  integer[] NOT NULL DEFAULT '{}',
    department     text,
    site           text,
    meeting_id     bigint REFERENCES coordination.joint_meetings (id),
    task           text,
    pause_events   text[] NOT NULL DEFAULT '{}',
    paused_at      timestamptz,
    pause_reason   text,
    paused_by      text,
    warned_at      timestamptz,
    breached_at    timestamptz,
    met_at         timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coordination_deadlines_case ON coordination.deadlines (case_no);
-- The clock's scans touch only open, running deadlines, in due order: partial indexes keep
-- them a short index range scan however many closed deadlines pile up.
CREATE INDEX coordination_deadlines_open_due ON coordination.deadlines (due_at)
    WHERE breached_at IS NULL AND met_at IS NULL AND paused_at IS NULL;
CREATE INDEX coordination_deadlines_open_warn ON coordination.deadlines (warn_at)
    WHERE warned_at IS NULL AND breached_at IS NULL AND met_at IS NULL AND paused_at IS NULL;
CREATE INDEX coordination_deadlines_provisional ON coordination.deadlines (id)
    WHERE provisional AND breached_at IS NULL AND met_at IS NULL;

CREATE TABLE coordination.practices (
    id             bigserial PRIMARY KEY,
    matter_code    text NOT NULL,
    windows        text[] NOT NULL,
    title          text NOT NULL,
    description    text NOT NULL,
    source_case_no text,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coordination_practices_matter ON coordination.practices (matter_code);
