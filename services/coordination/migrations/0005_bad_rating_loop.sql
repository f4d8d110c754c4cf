-- depends: 0003_flows_and_deadlines
-- The 差评 loop (好差评: 核实、申诉、整改、反馈、回访、再评价) of every case a bad rating opened:
-- one row per such case, each step kept as it was recorded (who, when, what). The rating's
-- level and the staff member it is about come with intake's case_registered event.
-- ``deadline_id`` is the rectification period (整改期限) the policy gave a genuine 差评; it is
-- one of coordination.deadlines, so the clock warns and breaches it like every other deadline.

CREATE TABLE coordination.bad_ratings (
    case_no       text PRIMARY KEY REFERENCES coordination.cases (case_no),
    rating_level  smallint CHECK (rating_level BETWEEN 1 AND 5),
    rated_staff   text,
    verification  jsonb,
    appeal        jsonb,
    rectification jsonb,
    answer        jsonb,
    re_rating     jsonb,
    deadline_id   bigint REFERENCES coordination.deadlines (id),
    opened_at     timestamptz NOT NULL DEFAULT now()
);

-- cases bad ratings opened before the loop existed enter it awaiting verification
INSERT INTO coordination.bad_ratings (case_no)
SELECT case_no FROM coordination.cases WHERE channel = 'rating'
ON CONFLICT (case_no) DO NOTHING;
