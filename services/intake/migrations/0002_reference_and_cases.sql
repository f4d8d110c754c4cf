-- depends: 0001_infrastructure
-- Reference data of the district (seeded from deploy/seed/<district>/) and the case register.

CREATE TABLE intake.sites (
    code     text PRIMARY KEY,
    name     text NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('district_hall', 'sub_centre', 'street_centre')),
    address  text NOT NULL DEFAULT ''
);

CREATE TABLE intake.windows (
    site_code text NOT NULL REFERENCES intake.sites (code),
    code      text NOT NULL,
    name      text NOT NULL,
    PRIMARY KEY (site_code, code)
);

CREATE TABLE intake.departments (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    approval_bureau boolean NOT NULL DEFAULT false
);

CREATE TABLE intake.matters (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    department_code text NOT NULL REFERENCES intake.departments (code),
    key_materials   jsonb NOT NULL DEFAULT '[]',
    other_materials jsonb NOT NULL DEFAULT '[]'
);

CREATE TABLE intake.matter_sites (
    matter_code text NOT NULL REFERENCES intake.matters (code),
    site_code   text NOT NULL REFERENCES intake.sites (code),
    PRIMARY KEY (matter_code, site_code)
);

CREATE TABLE intake.staff (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    site_code       text REFERENCES intake.sites (code),
    department_code text REFERENCES intake.departments (code),
    role            text NOT NULL
        CHECK (role IN ('window_staff', 'officer', 'bureau', 'supervisor', 'operator')),
    username        text UNIQUE,
    password_hash   text
);

-- One row per day: case numbers count up within a day across every intake instance.
CREATE TABLE intake.case_counters (
    day  date PRIMARY KEY,
    last integer NOT NULL
);

CREATE TABLE intake.cases (
    case_no            text PRIMARY KEY,
    site_code          text NOT NULL REFERENCES intake.sites (code),
    window_code        text NOT NULL,
    matter_code        text NOT NULL REFERENCES intake.matters (code),
    department_code    text NOT NULL REFERENCES intake.departments (code),
    channel            text NOT NULL CHECK (channel IN ('window', 'rating', 'hotline', 'comment_book')),
    applicant_kind     text NOT NULL CHECK (applicant_kind IN ('person', 'enterprise')),
    applicant_name     text NOT NULL,
    -- the ID number only encrypted, masked, and as a keyed hash for exact look-up
    id_number_cipher   text,
    id_number_masked   text,
    id_number_hash     text,
    phone              text,
    description        text NOT NULL,
    materials_presented jsonb NOT NULL DEFAULT '[]',
    materials_missing  jsonb NOT NULL DEFAULT '[]',
    first_receiver     text NOT NULL REFERENCES intake.staff (id),
    first_asked_by     text REFERENCES intake.staff (id),
    received_at        timestamptz NOT NULL,
    registered_at      timestamptz NOT NULL DEFAULT now(),
    registered_by      text NOT NULL,
    status             text NOT NULL DEFAULT 'registered',
    repeat_of          jsonb NOT NULL DEFAULT '[]',
    idempotency_key    text UNIQUE,
    FOREIGN KEY (site_code, window_code) REFERENCES intake.windows (site_code, code)
);
CREATE INDEX cases_site_received ON intake.cases (site_code, received_at DESC);
CREATE INDEX cases_first_receiver ON intake.cases (first_receiver, received_at DESC);
CREATE INDEX cases_applicant ON intake.cases (id_number_hash, matter_code, received_at DESC)
    WHERE id_number_hash IS NOT NULL;
