-- 0007_run_control: a run's control state in tables of its own instead of keys beside its
-- start parameters in runs.parameters: the engine that holds the run (which start, where,
-- since when, its heartbeat and the monitor port it bound), a stop request and its reason,
-- the engine's figures (stage restarts, peak memory), and each resume. The settings a run
-- recorded at its start get a column of their own. Existing runs keep what they noted.
-- Forward-only: never edit this file once released; add 0008_... instead.

ALTER TABLE runs ADD COLUMN settings jsonb;
COMMENT ON COLUMN runs.settings IS 'The settings the run''s figures depend on, recorded at its start.';

CREATE TABLE run_control (
    run_id            text PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    epoch             integer NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    engine            text,
    engine_started_at timestamptz,
    heartbeat_at      timestamptz,
    monitor_url       text,
    stop_requested_at timestamptz,
    stop_reason       text,
    restarts          integer NOT NULL DEFAULT 0 CHECK (restarts >= 0),
    peak_rss_mb       numeric(38, 18) CHECK (peak_rss_mb IS NULL OR peak_rss_mb >= 0),
    stage_stats       jsonb NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE run_control IS 'Who runs a papertest now, what it was asked to do, and what its engines reported.';

CREATE TABLE run_resumes (
    run_id      text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    resumed_at  timestamptz NOT NULL,
    from_event  timestamptz,
    PRIMARY KEY (run_id, resumed_at)
);
COMMENT ON TABLE run_resumes IS 'Every resume of a run: when (wall clock) and from which stored snapshot (event time).';

INSERT INTO run_control (run_id, epoch, engine_started_at, monitor_url, stop_requested_at,
                         stop_reason, restarts, peak_rss_mb, stage_stats)
SELECT run_id,
       COALESCE((parameters->>'epoch')::integer, 0),
       (parameters->>'engine_started_at')::timestamptz,
       parameters->>'monitor_url',
       (parameters->>'stop_requested')::timestamptz,
       parameters->>'stop_reason',
       COALESCE((parameters->'engine_stats'->>'restarts')::integer, 0),
       (parameters->'engine_stats'->>'peak_rss_mb')::numeric,
       COALESCE(parameters->'engine_stats'->'stages', '{}'::jsonb)
  FROM runs;

INSERT INTO run_resumes (run_id, resumed_at, from_event)
SELECT run_id, (resume->>'at')::timestamptz, (resume->>'from')::timestamptz
  FROM runs, jsonb_array_elements(COALESCE(parameters->'resumes', '[]'::jsonb)) AS resume
ON CONFLICT DO NOTHING;

UPDATE runs
   SET settings = parameters->'settings',
       parameters = parameters - ARRAY['epoch', 'engine_started_at', 'monitor_url',
                                       'stop_requested', 'stop_reason', 'engine_stats',
                                       'resumes', 'settings'];
