-- depends: 0007_login_throttle_and_sessions
-- Case numbers count per (day, site) instead of per day across the district (issue 13): a site
-- that runs its own node numbers its own cases without asking the district, and the district
-- refuses to open cases at such a site, so each counter has one owner. Today's numbers go on
-- above the district-wide counter's for every site, so no number already given is given again.
ALTER TABLE intake.case_counters DROP CONSTRAINT case_counters_pkey;
ALTER TABLE intake.case_counters ADD COLUMN site_code text;
INSERT INTO intake.case_counters (day, last, site_code)
    SELECT c.day, c.last, s.code FROM intake.case_counters c CROSS JOIN intake.sites s
    WHERE c.site_code IS NULL;
DELETE FROM intake.case_counters WHERE site_code IS NULL;
ALTER TABLE intake.case_counters ALTER COLUMN site_code SET NOT NULL;
ALTER TABLE intake.case_counters ADD PRIMARY KEY (day, site_code);
