-- depends: 0001_infrastructure
-- Who first received each case (首接负责): fixed at registration, kept until the case closes.

CREATE TABLE accountability.first_responsibility (
    case_no        text PRIMARY KEY,
    site_code      text NOT NULL,
    first_receiver text NOT NULL,
    first_asked_by text,
    received_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX first_responsibility_receiver
    ON accountability.first_responsibility (first_receiver, received_at DESC);
