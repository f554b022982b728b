-- 0005_truthful_report: what a report needs to tell the cost of every order and the span of a
-- run in both clocks.
-- Forward-only: never edit this file once released; add 0006_... instead.

-- The price the order would have paid when it was decided (ask to buy, bid to sell, else the
-- last trade or candle close): implementation shortfall is measured from it.
ALTER TABLE orders ADD COLUMN decision_price numeric(38, 18) CHECK (decision_price > 0);
-- The order's own reason (risk's decision) stays in `reason`; what its latest result said
-- (a rejection, an expiry, `taker fill`) goes here.
ALTER TABLE orders ADD COLUMN status_reason text;
COMMENT ON COLUMN orders.decision_price IS
    'Price the order would have paid at its decision (ask to buy, bid to sell, else last).';
COMMENT ON COLUMN orders.reason IS 'Why the order was created (risk''s decision).';
COMMENT ON COLUMN orders.status_reason IS 'What the order''s latest result said.';
-- Orders stored before this migration: what their latest result said was in `reason`.
UPDATE orders AS o SET status_reason = o.reason;

-- Event time is not wall-clock time: a replay of last year's data runs today in seconds.
-- started_at / ended_at are wall-clock; these are the event time of the run's first and last
-- market data.
ALTER TABLE runs ADD COLUMN event_start timestamptz;
ALTER TABLE runs ADD COLUMN event_end timestamptz;
ALTER TABLE runs ADD CONSTRAINT runs_event_end_after_start
    CHECK (event_end IS NULL OR event_start IS NULL OR event_end >= event_start);
COMMENT ON COLUMN runs.started_at IS 'When the run started (wall clock).';
COMMENT ON COLUMN runs.ended_at IS 'When the run ended (wall clock).';
COMMENT ON COLUMN runs.event_start IS 'Event time of the first market data the run played.';
COMMENT ON COLUMN runs.event_end IS 'Event time of the last market data the run played.';
