-- depends: 0007_login_throttle_and_sessions
-- Open311 GeoReport v2 (issue 15): the integrating systems and their API keys, the requests
-- they filed (each a case on channel open311), and each site's Open311 first receiver.

ALTER TABLE intake.cases
    DROP CONSTRAINT cases_channel_check,
    ADD CONSTRAINT cases_channel_check
        CHECK (channel IN ('window', 'rating', 'hotline', 'comment_book', 'open311'));

-- 首接负责制: the staff member of the site who first receives what Open311 files there.
ALTER TABLE intake.sites ADD COLUMN open311_receiver text REFERENCES intake.staff (id);

-- One row per integrating system's key: only its SHA-256 is kept (the key is shown once).
CREATE TABLE intake.integrations (
    id            bigserial PRIMARY KEY,
    system_name   text NOT NULL,
    key_hash      text NOT NULL UNIQUE,
    key_hint      text NOT NULL,
    jurisdictions text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

-- What an Open311 request carried beyond the case: who filed it and where it is.
CREATE TABLE intake.open311_requests (
    case_no        text PRIMARY KEY REFERENCES intake.cases (case_no),
    integration_id bigint NOT NULL REFERENCES intake.integrations (id),
    service_code   text NOT NULL,
    address        text,
    lat            double precision,
    long           double precision,
    email          text,
    device_id      text,
    account_id     text,
    media_url      text,
    attributes     jsonb NOT NULL DEFAULT '{}',
    requested_at   timestamptz NOT NULL
);
CREATE INDEX open311_requests_by_time ON intake.open311_requests (requested_at DESC, case_no DESC);
