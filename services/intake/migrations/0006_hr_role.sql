-- depends: 0005_registration_events_by_case
-- HR (人事) logs in too: it confirms or rejects the dismissals findings recommend (DESIGN §2).

ALTER TABLE intake.staff
    DROP CONSTRAINT staff_role_check,
    ADD CONSTRAINT staff_role_check
        CHECK (role IN ('window_staff', 'officer', 'bureau', 'supervisor', 'operator', 'hr'));
