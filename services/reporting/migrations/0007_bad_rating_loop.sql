-- depends: 0004_one_cause_wording
-- The 差评 loop on each case's row (services.reporting.domain.apply_to_bad_rating): whether a
-- return visit is required, the bad rating's level and the loop's steps as its events told
-- them (verified, appealed, rectified, answered, re-rated, with their times). The monthly
-- counters of dimension ``bad_rating`` give 差评整改率, 回访率 and the re-rating results.
-- A replay fills them for the cases logged before.

ALTER TABLE reporting.cases
    ADD COLUMN requires_return_visit boolean,
    ADD COLUMN rating_level          smallint,
    ADD COLUMN bad_rating            jsonb;
