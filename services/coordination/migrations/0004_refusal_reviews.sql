-- depends: 0003_flows_and_deadlines
-- Every `cannot` answer (否定答复) as it was given, one row per explanation, with the approval
-- bureau's review of it: upheld, or sent back with a reason (the case is then taken up again
-- and explained anew, which adds the next row). The monthly report reads a month of these by
-- the time the answer was given; cases.explanation stays the case's current answer.

CREATE TABLE coordination.refusals (
    id                    bigserial PRIMARY KEY,
    case_no               text NOT NULL REFERENCES coordination.cases (case_no),
    site_code             text NOT NULL,
    matter_code           text NOT NULL,
    department_code       text NOT NULL,
    legal_basis           text NOT NULL,
    explanation           text NOT NULL,
    missing_key_materials jsonb NOT NULL DEFAULT '[]'::jsonb,
    explained_by          text NOT NULL,
    explained_at          timestamptz NOT NULL,
    review_result         text CHECK (review_result IN ('upheld', 'sent_back')),
    review_reason         text,
    reviewed_by           text,
    reviewed_at           timestamptz,
    CHECK ((review_result IS NULL) = (reviewed_at IS NULL)),
    CHECK (review_result IS DISTINCT FROM 'sent_back' OR review_reason IS NOT NULL)
);
CREATE INDEX coordination_refusals_case ON coordination.refusals (case_no, id);
-- the report reads one month of answers in time order
CREATE INDEX coordination_refusals_explained ON coordination.refusals (explained_at, id);

-- the answers given before this table existed, from the cases' current explanation
INSERT INTO coordination.refusals (case_no, site_code, matter_code, department_code, legal_basis,
    explanation, missing_key_materials, explained_by, explained_at)
SELECT case_no, site_code, matter_code, department_code, explanation->>'legal_basis',
       explanation->>'explanation', COALESCE(explanation->'missing_key_materials', '[]'::jsonb),
       COALESCE(explanation->>'actor', classified_by, ''),
       COALESCE((explanation->>'at')::timestamptz, classified_at, opened_at)
FROM coordination.cases
WHERE case_type = 'cannot' AND explanation IS NOT NULL
ORDER BY case_no;
