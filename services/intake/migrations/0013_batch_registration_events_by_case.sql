-- depends: 0012_standard_practices
-- registration_event(case_no) finds a case that a batch opened in its cases_registered event
-- (issue 16: one event for a ratings batch's cases) without scanning the outbox: the event's
-- case list, indexed for containment (@> '[{"case_no": …}]'). Partial: only those events.
CREATE INDEX intake_outbox_batch_registration_cases ON intake.outbox
    USING gin ((payload->'data'->'cases') jsonb_path_ops)
    WHERE event_type = 'cases_registered';
