-- depends: 0003_channels_and_case_state
-- Batch rows get their ids from the database (COPY leaves the column out): generating a uuid
-- per row in Python is a measurable share of the batch path's time.
ALTER TABLE intake.ratings ALTER COLUMN id SET DEFAULT gen_random_uuid();
