-- 0004_market_gaps: every stretch of missing market data (a dropped feed, holes in the
-- exchange's candles, claire being down), so a report can show it and a dead feed is never
-- silent. Forward-only: never edit this file once released; add 0005_... instead.

CREATE TABLE market_gaps (
    event_id        text PRIMARY KEY,
    run_id          text,
    symbol          text NOT NULL,
    cause           text NOT NULL
                    CHECK (cause IN ('disconnect', 'missing_candles', 'downtime', 'stale', 'planned_reconnect')),
    gap_start       timestamptz NOT NULL,
    gap_end         timestamptz NOT NULL,
    missing         integer NOT NULL CHECK (missing >= 0),
    backfilled      integer NOT NULL CHECK (backfilled >= 0),
    detail          text,
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    CONSTRAINT market_gaps_time_order CHECK (gap_end >= gap_start)
);
CREATE INDEX market_gaps_symbol_gap_start_idx ON market_gaps (symbol, gap_start);
CREATE INDEX market_gaps_run_id_idx ON market_gaps (run_id);
COMMENT ON TABLE market_gaps IS 'Stretches of missing market data; backfilled candles were recovered from REST.';
