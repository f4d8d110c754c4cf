-- depends: 0009_login_role
-- The audit chain in fewer round trips (issue 16).
--
-- locked_audit_tail: the chain lock (held until the transaction ends) and the chain's last
-- entry (seq, hash; NULLs when the trail is empty) in one statement. The read is a statement
-- of this VOLATILE function of its own, so its snapshot is taken after the lock is granted and
-- it sees the entry the previous holder committed (a read in the very statement that waits for
-- the lock would not: that statement's snapshot predates the grant). SECURITY INVOKER: the
-- read is the caller's, with the caller's rights on the trail.

CREATE FUNCTION accountability.locked_audit_tail(lock_key bigint, OUT seq bigint, OUT hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT a.seq, a.hash INTO seq, hash
    FROM accountability.audit_log a ORDER BY a.seq DESC LIMIT 1;
END;
$$;

REVOKE ALL ON FUNCTION accountability.locked_audit_tail(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION accountability.locked_audit_tail(bigint) TO bancheng_service;

-- handle_event_once: a consumed event's first statement (its transaction's, sent with the
-- BEGIN). First the role, as SET LOCAL ROLE ``service_role`` sets it (NULL: the login role's
-- own rights); then the event's id recorded as handled (``fresh``: it was not before); then,
-- when it is fresh and its arrival ``audited``, locked_audit_tail. Each runs as a statement of
-- its own, in this order: the INSERT and the read are the service role's, checked with its
-- rights, and a redelivered event takes no lock.

CREATE FUNCTION accountability.handle_event_once(
    service_role text, handled_id uuid, handled_type text, lock_key bigint, audited boolean,
    OUT fresh boolean, OUT seq bigint, OUT hash text
)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF service_role IS NOT NULL THEN
        PERFORM set_config('role', service_role, true);  -- SET LOCAL ROLE
    END IF;
    INSERT INTO accountability.handled_events (event_id, event_type)
    VALUES (handled_id, handled_type) ON CONFLICT (event_id) DO NOTHING;
    fresh := FOUND;
    IF fresh AND audited THEN
        SELECT t.seq, t.hash INTO seq, hash
        FROM accountability.locked_audit_tail(lock_key) t;
    END IF;
END;
$$;

REVOKE ALL ON FUNCTION accountability.handle_event_once(text, uuid, text, bigint, boolean)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION accountability.handle_event_once(text, uuid, text, bigint, boolean)
    TO bancheng_service;
