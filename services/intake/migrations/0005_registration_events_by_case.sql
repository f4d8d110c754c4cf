-- depends: 0004_rating_ids_by_default
-- Coordination asks for a case's case_registered event when a step on the case comes before
-- the event's delivery (read your own writes): find it by case number without scanning the
-- outbox. Partial: only registrations, a small share of the outbox's rows.
CREATE INDEX intake_outbox_registration_by_case ON intake.outbox ((payload->'data'->>'case_no'))
    WHERE event_type = 'case_registered';
