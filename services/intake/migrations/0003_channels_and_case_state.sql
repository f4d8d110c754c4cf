-- depends: 0002_reference_and_cases
-- The other channels (好差评 ratings, hotline, comment book), helpers, return visits, and the
-- copy of coordination's state that the case list filters on.

-- What coordination tells us about a case (consumed events), so lists can filter without
-- reading coordination's schema. ``overdue`` is derived: a deadline was breached and the case
-- has not been answered yet; events may arrive in any order and the result is the same.
ALTER TABLE intake.cases
    ADD COLUMN status_at             timestamptz,
    ADD COLUMN case_type             text CHECK (case_type IN ('cannot', 'hard', 'refused', 'pending')),
    ADD COLUMN classified_at         timestamptz,
    ADD COLUMN complex               boolean NOT NULL DEFAULT false,
    ADD COLUMN deadline_breached     boolean NOT NULL DEFAULT false,
    ADD COLUMN answered              boolean NOT NULL DEFAULT false,
    ADD COLUMN overdue               boolean GENERATED ALWAYS AS (deadline_breached AND NOT answered) STORED,
    ADD COLUMN requires_return_visit boolean NOT NULL DEFAULT false,
    ADD COLUMN feedback_id           uuid,
    ADD COLUMN rated_staff           text REFERENCES intake.staff (id);
CREATE INDEX cases_type ON intake.cases (case_type, case_no DESC) WHERE case_type IS NOT NULL;
CREATE INDEX cases_overdue ON intake.cases (case_no DESC) WHERE overdue;

-- 首接负责制: the first receiver (and first asker) are fixed at registration. No route changes
-- them; this guard makes sure no statement does either.
CREATE FUNCTION intake.refuse_first_receiver_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.first_receiver IS DISTINCT FROM OLD.first_receiver
       OR NEW.first_asked_by IS DISTINCT FROM OLD.first_asked_by THEN
        RAISE EXCEPTION 'the first receiver of case % cannot be changed (首接负责制)', OLD.case_no
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER cases_first_receiver_fixed
    BEFORE UPDATE OF first_receiver, first_asked_by ON intake.cases
    FOR EACH ROW EXECUTE FUNCTION intake.refuse_first_receiver_change();

-- Others assisting a case; the first receiver stays on it besides them.
CREATE TABLE intake.case_helpers (
    case_no  text NOT NULL REFERENCES intake.cases (case_no),
    staff_id text NOT NULL REFERENCES intake.staff (id),
    added_by text NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_no, staff_id)
);

-- 回访 after a real-name bad rating: coordination may close the case only after one.
CREATE TABLE intake.return_visits (
    id          bigserial PRIMARY KEY,
    case_no     text NOT NULL REFERENCES intake.cases (case_no),
    satisfied   boolean NOT NULL,
    notes       text NOT NULL DEFAULT '',
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX return_visits_case ON intake.return_visits (case_no, recorded_at);

-- Every 好差评 rating, good or bad, one by one or in a batch (COPY), for reporting. A bad one
-- also names the case it opened. No ID number here: a real-name rating's number lives only
-- (encrypted) on its case.
CREATE TABLE intake.ratings (
    id          uuid PRIMARY KEY,
    batch_id    uuid,
    site_code   text NOT NULL,
    window_code text NOT NULL,
    matter_code text NOT NULL,
    staff_id    text,
    level       smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    text        text NOT NULL DEFAULT '',
    real_name   boolean NOT NULL DEFAULT false,
    rated_at    timestamptz NOT NULL,
    case_no     text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ratings_rated_at ON intake.ratings (rated_at);
CREATE INDEX ratings_batch ON intake.ratings (batch_id) WHERE batch_id IS NOT NULL;

-- Hotline complaints and comment-book entries reporting a failure: each opened a case.
CREATE TABLE intake.complaints (
    id          uuid PRIMARY KEY,
    channel     text NOT NULL CHECK (channel IN ('hotline', 'comment_book')),
    site_code   text NOT NULL,
    matter_code text NOT NULL,
    text        text NOT NULL,
    case_no     text NOT NULL REFERENCES intake.cases (case_no),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Comment-book entries that report no failure: kept for the monthly summary.
CREATE TABLE intake.suggestions (
    id          uuid PRIMARY KEY,
    channel     text NOT NULL,
    site_code   text NOT NULL,
    window_code text,
    matter_code text,
    text        text NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Idempotency of feedback requests (single and batch): the first answer is kept and replayed.
CREATE TABLE intake.feedback_requests (
    idempotency_key text PRIMARY KEY,
    response        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
