-- 0001_initial: claire's first schema.
--
-- Conventions (engine/storage/schema.py names every table and column below):
--   * Money, prices, quantities, fees, PnL, basis points and fractions are NUMERIC(38, 18)
--     (engine.money.STORAGE_PLACES), never float. Every time is timestamptz.
--   * Vocabularies (sides, order types, statuses, levels) are lowercase and enforced by CHECK
--     constraints; the engine normalises case before it writes.
--   * Every event table has a unique event_id, so every write is
--     INSERT ... ON CONFLICT DO NOTHING and a redelivered event is a no-op.
--   * The envelope of an event is event_id, run_id, ts_event, ts_init, source, schema_version.
--     In trades and portfolio_snapshots ts_event is called "timestamp" (operator queries).
--   * No foreign keys between event tables: each stream is consumed on its own, so an order
--     result may be written before its order, and market data belongs to no run.
-- Forward-only: never edit this file once released; add 0002_... instead.

CREATE TABLE schema_migrations (
    version     integer PRIMARY KEY CHECK (version > 0),
    name        text NOT NULL,
    checksum    text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runs (
    run_id          text PRIMARY KEY,
    name            text,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'completed', 'stopped', 'aborted', 'failed')),
    parameters      jsonb NOT NULL DEFAULT '{}'::jsonb,
    settings_hash   text,
    code_version    text,
    data_source     text,
    started_at      timestamptz NOT NULL,
    planned_end     timestamptz,
    ended_at        timestamptz,
    end_reason      text,
    initial_capital numeric(38, 18) NOT NULL CHECK (initial_capital > 0),
    CONSTRAINT runs_planned_end_after_start CHECK (planned_end IS NULL OR planned_end > started_at),
    CONSTRAINT runs_ended_after_start CHECK (ended_at IS NULL OR ended_at >= started_at),
    -- A run is running exactly as long as it has no end.
    CONSTRAINT runs_ended_unless_running CHECK ((status = 'running') = (ended_at IS NULL))
);
CREATE INDEX runs_started_at_idx ON runs (started_at);

-- Market data ---------------------------------------------------------------------------------

CREATE TABLE candles (
    event_id        text PRIMARY KEY,
    run_id          text,
    symbol          text NOT NULL,
    interval        text NOT NULL CHECK (interval IN ('1m', '5m', '15m', '30m', '1h', '4h', '1d')),
    open_time       timestamptz NOT NULL,
    close_time      timestamptz NOT NULL,
    open            numeric(38, 18) NOT NULL CHECK (open > 0),
    high            numeric(38, 18) NOT NULL,
    low             numeric(38, 18) NOT NULL CHECK (low > 0),
    close           numeric(38, 18) NOT NULL CHECK (close > 0),
    volume          numeric(38, 18) NOT NULL CHECK (volume >= 0),
    quote_volume    numeric(38, 18) NOT NULL CHECK (quote_volume >= 0),
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    CONSTRAINT candles_time_order CHECK (close_time > open_time),
    CONSTRAINT candles_high_low CHECK (high >= GREATEST(open, close, low) AND low <= LEAST(open, close)),
    CONSTRAINT candles_one_per_interval UNIQUE (source, symbol, interval, open_time)
);
CREATE INDEX candles_symbol_open_time_idx ON candles (symbol, interval, open_time);

CREATE TABLE trade_ticks (
    event_id        text PRIMARY KEY,
    run_id          text,
    symbol          text NOT NULL,
    price           numeric(38, 18) NOT NULL CHECK (price > 0),
    quantity        numeric(38, 18) NOT NULL CHECK (quantity > 0),
    side            text NOT NULL CHECK (side IN ('buy', 'sell')),
    trade_id        text,
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1)
);
CREATE INDEX trade_ticks_symbol_ts_event_idx ON trade_ticks (symbol, ts_event);

CREATE TABLE quote_ticks (
    event_id        text PRIMARY KEY,
    run_id          text,
    symbol          text NOT NULL,
    bid_price       numeric(38, 18) NOT NULL CHECK (bid_price > 0),
    bid_quantity    numeric(38, 18) NOT NULL CHECK (bid_quantity >= 0),
    ask_price       numeric(38, 18) NOT NULL CHECK (ask_price > 0),
    ask_quantity    numeric(38, 18) NOT NULL CHECK (ask_quantity >= 0),
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1)
);
CREATE INDEX quote_ticks_symbol_ts_event_idx ON quote_ticks (symbol, ts_event);

-- Decisions -----------------------------------------------------------------------------------

CREATE TABLE signals (
    event_id        text PRIMARY KEY,
    run_id          text,
    symbol          text NOT NULL,
    side            text NOT NULL CHECK (side IN ('buy', 'sell')),
    strategy        text NOT NULL,
    confidence      numeric(38, 18) NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    reason          text,
    reference_price numeric(38, 18) NOT NULL CHECK (reference_price > 0),
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1)
);
CREATE INDEX signals_run_id_ts_event_idx ON signals (run_id, ts_event);

CREATE TABLE risk_decisions (
    event_id        text PRIMARY KEY,
    run_id          text,
    signal_id       text NOT NULL,
    approved        boolean NOT NULL,
    reason_code     text NOT NULL,
    detail          text,
    order_id        text,
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    -- A denied signal creates no order.
    CONSTRAINT risk_decisions_order_only_if_approved CHECK (approved OR order_id IS NULL)
);
CREATE INDEX risk_decisions_signal_id_idx ON risk_decisions (signal_id);
CREATE INDEX risk_decisions_run_id_ts_event_idx ON risk_decisions (run_id, ts_event);

-- Orders and fills ----------------------------------------------------------------------------

-- One row per order; status, filled_quantity and reason follow its order results
-- (a rejected or cancelled order is recorded here and creates no trade).
CREATE TABLE orders (
    order_id        text PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    run_id          text,
    signal_id       text,
    symbol          text NOT NULL,
    side            text NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type      text NOT NULL CHECK (order_type IN ('market', 'limit')),
    quantity        numeric(38, 18) NOT NULL CHECK (quantity > 0),
    price           numeric(38, 18),
    status          text NOT NULL DEFAULT 'submitted'
                    CHECK (status IN ('submitted', 'accepted', 'partially_filled', 'filled',
                                      'cancelled', 'rejected', 'expired')),
    filled_quantity numeric(38, 18) NOT NULL DEFAULT 0,
    reason          text,
    expires_at      timestamptz,
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- "price IS NOT NULL": `NULL > 0` is NULL, and a CHECK lets NULL pass.
    CONSTRAINT orders_price_matches_type CHECK (
        (order_type = 'market' AND price IS NULL)
        OR (order_type = 'limit' AND price IS NOT NULL AND price > 0)
    ),
    CONSTRAINT orders_filled_within_quantity
        CHECK (filled_quantity >= 0 AND filled_quantity <= quantity)
);
CREATE INDEX orders_run_id_ts_event_idx ON orders (run_id, ts_event);
CREATE INDEX orders_signal_id_idx ON orders (signal_id);

-- Every result the paper execution reported, fills and refusals alike.
CREATE TABLE order_results (
    event_id        text PRIMARY KEY,
    run_id          text,
    order_id        text NOT NULL,
    symbol          text NOT NULL,
    side            text NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type      text NOT NULL CHECK (order_type IN ('market', 'limit')),
    status          text NOT NULL
                    CHECK (status IN ('accepted', 'partially_filled', 'filled', 'cancelled',
                                      'rejected', 'expired')),
    quantity        numeric(38, 18) NOT NULL CHECK (quantity > 0),
    filled_quantity numeric(38, 18) NOT NULL DEFAULT 0,
    execution_price numeric(38, 18),
    reference_price numeric(38, 18) CHECK (reference_price > 0),
    slippage_bps    numeric(38, 18),
    fee             numeric(38, 18) NOT NULL DEFAULT 0 CHECK (fee >= 0),
    fee_currency    text,
    trade_id        text,
    reason          text,
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    CONSTRAINT order_results_filled_within_quantity
        CHECK (filled_quantity >= 0 AND filled_quantity <= quantity),
    -- A fill has a positive price and a trade id; any other result has no execution price.
    CONSTRAINT order_results_price_only_on_fill CHECK (
        (status IN ('filled', 'partially_filled')
         AND execution_price IS NOT NULL AND execution_price > 0 AND trade_id IS NOT NULL)
        OR (status NOT IN ('filled', 'partially_filled') AND execution_price IS NULL)
    )
);
CREATE INDEX order_results_order_id_idx ON order_results (order_id);
CREATE INDEX order_results_run_id_ts_event_idx ON order_results (run_id, ts_event);

-- Fills only (filled or partially_filled); event_id is that of the order result.
CREATE TABLE trades (
    order_id        text NOT NULL,
    trade_id        text PRIMARY KEY,
    run_id          text,
    symbol          text NOT NULL,
    side            text NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity        numeric(38, 18) NOT NULL CHECK (quantity > 0),
    execution_price numeric(38, 18) NOT NULL CHECK (execution_price > 0),
    reference_price numeric(38, 18) NOT NULL CHECK (reference_price > 0),
    slippage_bps    numeric(38, 18) NOT NULL,
    fees            numeric(38, 18) NOT NULL CHECK (fees >= 0),
    fee_currency    text NOT NULL,
    status          text NOT NULL CHECK (status IN ('filled', 'partially_filled')),
    "timestamp"     timestamptz NOT NULL,
    event_id        text NOT NULL UNIQUE
);
CREATE INDEX trades_run_id_timestamp_idx ON trades (run_id, "timestamp");
CREATE INDEX trades_timestamp_idx ON trades ("timestamp");
CREATE INDEX trades_order_id_idx ON trades (order_id);

-- The portfolio ---------------------------------------------------------------------------------

-- Spot only: a position is flat or long.
CREATE TABLE positions (
    run_id          text NOT NULL,
    symbol          text NOT NULL,
    quantity        numeric(38, 18) NOT NULL CHECK (quantity >= 0),
    average_price   numeric(38, 18) NOT NULL CHECK (average_price >= 0),
    realized_pnl    numeric(38, 18) NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (run_id, symbol)
);

-- Drawdowns and exposure are fractions (0.05 is 5%), drawdowns counted positive.
CREATE TABLE portfolio_snapshots (
    event_id        text PRIMARY KEY,
    run_id          text,
    "timestamp"     timestamptz NOT NULL,
    cash            numeric(38, 18) NOT NULL,
    equity          numeric(38, 18) NOT NULL,
    realized_pnl    numeric(38, 18) NOT NULL,
    unrealized_pnl  numeric(38, 18) NOT NULL,
    exposure        numeric(38, 18) NOT NULL CHECK (exposure >= 0),
    daily_drawdown  numeric(38, 18) NOT NULL CHECK (daily_drawdown >= 0),
    max_drawdown    numeric(38, 18) NOT NULL CHECK (max_drawdown >= 0),
    positions       jsonb NOT NULL DEFAULT '[]'::jsonb,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1)
);
CREATE INDEX portfolio_snapshots_run_id_timestamp_idx ON portfolio_snapshots (run_id, "timestamp");
CREATE INDEX portfolio_snapshots_timestamp_idx ON portfolio_snapshots ("timestamp");

-- Operations ----------------------------------------------------------------------------------

CREATE TABLE alerts (
    event_id        text PRIMARY KEY,
    run_id          text,
    level           text NOT NULL CHECK (level IN ('info', 'warning', 'critical')),
    code            text NOT NULL,
    message         text NOT NULL,
    cleared         boolean NOT NULL DEFAULT false,
    symbol          text,
    ts_event        timestamptz NOT NULL,
    ts_init         timestamptz NOT NULL,
    source          text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1)
);
CREATE INDEX alerts_run_id_ts_event_idx ON alerts (run_id, ts_event);
CREATE INDEX alerts_code_ts_event_idx ON alerts (code, ts_event);

-- Messages a consumer gave up on; (stream, message_id) makes recording one idempotent.
CREATE TABLE dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream          text NOT NULL,
    message_id      text NOT NULL,
    group_name      text NOT NULL,
    error           text NOT NULL,
    attempts        integer NOT NULL CHECK (attempts >= 0),
    payload         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dead_letters_once_per_message UNIQUE (stream, message_id)
);
CREATE INDEX dead_letters_created_at_idx ON dead_letters (created_at);
