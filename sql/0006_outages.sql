-- 0006_outages: every time the supervisor found one of claire's own servers or a papertest's
-- engine dead, when it came back and how many restarts that took, so a report can list the
-- outages of its run and `claire status` the ones still going on. Times are wall clock.
-- Forward-only: never edit this file once released; add 0007_... instead.

CREATE TABLE outages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          text,
    component       text NOT NULL CHECK (component IN ('redis', 'postgres', 'engine')),
    began_at        timestamptz NOT NULL,
    ended_at        timestamptz,
    restarts        integer NOT NULL DEFAULT 0 CHECK (restarts >= 0),
    detail          text NOT NULL DEFAULT '',
    CONSTRAINT outages_time_order CHECK (ended_at IS NULL OR ended_at >= began_at),
    CONSTRAINT outages_one_per_start UNIQUE (component, began_at)
);
CREATE INDEX outages_run_id_idx ON outages (run_id);
COMMENT ON TABLE outages IS 'Servers and engines found dead by the supervisor, until they answered again.';
