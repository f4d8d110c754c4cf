-- depends: 0004_department_deductions
-- The append-only audit trail: every decision, chained by sha256 (see services/accountability/
-- audit.py). The database itself refuses UPDATE, DELETE and TRUNCATE, whoever asks.

CREATE TABLE accountability.audit_log (
    seq             bigint PRIMARY KEY,
    at              timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    actor           text,
    role            text,
    action          text NOT NULL,
    case_no         text,
    subject         text,
    content         text NOT NULL,
    source_event_id uuid UNIQUE,
    prev_hash       text NOT NULL,
    hash            text NOT NULL
);
CREATE INDEX audit_log_case ON accountability.audit_log (case_no, seq);
CREATE INDEX audit_log_actor ON accountability.audit_log (actor, case_no);

CREATE FUNCTION accountability.audit_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accountability.audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON accountability.audit_log
    FOR EACH ROW EXECUTE FUNCTION accountability.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON accountability.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION accountability.audit_log_is_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON accountability.audit_log FROM PUBLIC;
