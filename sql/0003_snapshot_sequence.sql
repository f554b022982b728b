-- 0003_snapshot_sequence: a per-run number that orders snapshots sharing a timestamp
-- (the minute snapshot and the one taken after a fill at the same event time).
-- Forward-only: never edit this file once released; add 0004_... instead.

ALTER TABLE portfolio_snapshots ADD COLUMN sequence bigint NOT NULL DEFAULT 0 CHECK (sequence >= 0);
CREATE INDEX portfolio_snapshots_run_id_sequence_idx ON portfolio_snapshots (run_id, sequence);
COMMENT ON COLUMN portfolio_snapshots.sequence IS
    'Number of the snapshot within its run; ORDER BY timestamp, sequence for a total order.';
