-- depends: 0005_audit_log
-- HR (人事) confirms or rejects a recommended dismissal: a rejected one stays on record (its
-- finding still counts as a strike), with who rejected it, when and why.

ALTER TABLE accountability.sanctions
    DROP CONSTRAINT sanctions_status_check,
    ADD CONSTRAINT sanctions_status_check
        CHECK (status IN ('applied', 'recommended', 'confirmed', 'rejected', 'revoked')),
    ADD COLUMN rejected_by   text,
    ADD COLUMN rejected_at   timestamptz,
    ADD COLUMN reject_reason text;
