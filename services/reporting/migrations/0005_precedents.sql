-- depends: 0004_one_cause_wording
-- Precedents (issue 15, item 4; services.reporting.precedents): one row per case with what a
-- later registration shows, and the texts of the settled ones (resolved, closed, archived) that
-- a registration's description is compared with.
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database owner, or anyone with CREATE on
-- the database, may create it. It goes to public, where every connection's search path finds
-- its functions and operators (an extension exists once per database). In a UTF-8 database
-- pg_trgm makes trigrams of Chinese characters as well.

CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

CREATE TABLE reporting.precedents (
    case_no     text PRIMARY KEY,
    site        text,
    matter      text,
    description text,
    search_text text,
    type        text,
    outcome     text,
    summary     text,
    practice_id text,
    practice    text,
    state       text,
    state_at    timestamptz,
    resolved_at timestamptz,
    settled     boolean NOT NULL DEFAULT false
);

-- The compared texts of the settled precedents only, partitioned by matter: a registration asks
-- about its own matter first, and a GIN index's cost is the length of the posting lists of the
-- text's trigrams, so one matter's search reads one partition's lists (in a million cases of a
-- few dozen matters, a common phrase's list is tens of thousands long in one index for all).
-- A search over every matter stops at the partitions that already gave enough rows.
CREATE TABLE reporting.precedent_texts (
    matter      text NOT NULL,
    case_no     text NOT NULL,
    search_text text NOT NULL,
    PRIMARY KEY (matter, case_no)
) PARTITION BY HASH (matter);

DO $$
BEGIN
    FOR remainder IN 0..31 LOOP
        EXECUTE format(
            'CREATE TABLE reporting.precedent_texts_%s PARTITION OF reporting.precedent_texts '
            'FOR VALUES WITH (MODULUS 32, REMAINDER %s)', remainder, remainder
        );
    END LOOP;
END
$$;

CREATE INDEX precedent_texts_similar ON reporting.precedent_texts
    USING gin (search_text public.gin_trgm_ops);
