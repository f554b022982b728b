-- 0009_run_groups: several papertests at once. A run may belong to a group: the runs one
-- `claire papertest start` began together (a strategy repeated, or a matrix file), over the
-- same source, period and capital, to be compared side by side. A run started alone has no
-- group (NULL). Each run of a group has its place in it, as the start listed it. Finding the
-- running papertests is now a question asked every second by the supervisor and every
-- worker: a partial index answers it.
-- Forward-only: never edit this file once released; add 0010_... instead.

ALTER TABLE runs ADD COLUMN group_id text
    CHECK (group_id IS NULL OR group_id ~ '^grp-[0-9]{8}-[0-9]{4}-[0-9a-f]{4}$');
COMMENT ON COLUMN runs.group_id IS 'The group of runs started together (NULL: started alone).';
ALTER TABLE runs ADD COLUMN group_index smallint
    CHECK ((group_id IS NULL) = (group_index IS NULL) AND (group_index IS NULL OR group_index >= 1));
COMMENT ON COLUMN runs.group_index IS 'Where the run stands in its group, from 1 (the order it was asked in).';

CREATE INDEX runs_group_id_idx ON runs (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX runs_running_idx ON runs (started_at) WHERE status = 'running';

-- An outage of a server hits every papertest running: it is recorded once for each of them,
-- and two engines found dead in one look are two outages.
ALTER TABLE outages DROP CONSTRAINT outages_one_per_start;
CREATE UNIQUE INDEX outages_one_per_start ON outages (component, began_at, COALESCE(run_id, ''));
