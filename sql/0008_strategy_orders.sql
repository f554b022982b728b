-- 0008_strategy_orders: what a strategy's signal may ask for besides "buy" or "sell": a limit
-- order with its price and time in force, a buy sized as a share of equity or a quote amount,
-- a sell of part of the holding. Every column is NULL on a signal that asks none of it (and on
-- every signal stored before this migration: market orders risk sized itself).
-- Forward-only: never edit this file once released; add 0009_... instead.

ALTER TABLE signals ADD COLUMN order_type text NOT NULL DEFAULT 'market'
    CHECK (order_type IN ('market', 'limit'));
ALTER TABLE signals ADD COLUMN limit_price numeric(38, 18) CHECK (limit_price > 0);
ALTER TABLE signals ADD COLUMN time_in_force text CHECK (time_in_force IN ('gtc', 'gtd', 'ioc'));
ALTER TABLE signals ADD COLUMN expires_at timestamptz;
ALTER TABLE signals ADD COLUMN equity_fraction numeric(38, 18)
    CHECK (equity_fraction > 0 AND equity_fraction <= 1);
ALTER TABLE signals ADD COLUMN quote_amount numeric(38, 18) CHECK (quote_amount > 0);
ALTER TABLE signals ADD COLUMN close_fraction numeric(38, 18)
    CHECK (close_fraction > 0 AND close_fraction <= 1);
ALTER TABLE signals ADD CONSTRAINT signals_limit_has_price CHECK (
    (order_type = 'market' AND limit_price IS NULL AND time_in_force IS NULL)
    OR (order_type = 'limit' AND limit_price IS NOT NULL)
);
COMMENT ON COLUMN signals.equity_fraction IS 'A buy sized as this share of equity (risk caps it).';
COMMENT ON COLUMN signals.quote_amount IS 'A buy sized as this quote amount (risk caps it).';
COMMENT ON COLUMN signals.close_fraction IS 'A sell of this share of the holding (NULL: all).';

-- A limit order's time in force; NULL: it rests for the engine's limit order TTL.
ALTER TABLE orders ADD COLUMN time_in_force text CHECK (time_in_force IN ('gtc', 'gtd', 'ioc'));
ALTER TABLE orders ADD CONSTRAINT orders_time_in_force_of_limits
    CHECK (time_in_force IS NULL OR order_type = 'limit');
