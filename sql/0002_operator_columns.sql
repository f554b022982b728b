-- 0002_operator_columns: the column names operators query (engine issue), and their meaning.
-- Forward-only: never edit this file once released; add 0003_... instead.

-- An order's time under the name the operator's queries use.
ALTER TABLE orders ADD COLUMN "timestamp" timestamptz NOT NULL GENERATED ALWAYS AS (ts_event) STORED;
CREATE INDEX orders_timestamp_idx ON orders ("timestamp");

ALTER TABLE portfolio_snapshots RENAME COLUMN daily_drawdown TO daily_drawdown_pct;
ALTER TABLE portfolio_snapshots RENAME COLUMN max_drawdown TO max_drawdown_pct;
ALTER TABLE portfolio_snapshots
    ADD COLUMN positions_value numeric(38, 18) NOT NULL DEFAULT 0,
    ADD COLUMN exposure_pct numeric(38, 18) NOT NULL DEFAULT 0 CHECK (exposure_pct >= 0);

COMMENT ON TABLE portfolio_snapshots IS
    'The portfolio every minute of event time and after every fill, in the quote currency.';
COMMENT ON COLUMN portfolio_snapshots."timestamp" IS 'Event time of the snapshot (UTC).';
COMMENT ON COLUMN portfolio_snapshots.equity IS 'cash + positions_value.';
COMMENT ON COLUMN portfolio_snapshots.positions_value IS
    'Sum of quantity x mark price of the open positions.';
COMMENT ON COLUMN portfolio_snapshots.exposure IS 'Market value of the open positions.';
COMMENT ON COLUMN portfolio_snapshots.exposure_pct IS
    'exposure / equity as a FRACTION (0.05 = 5%), not a percent.';
COMMENT ON COLUMN portfolio_snapshots.daily_drawdown_pct IS
    'Drawdown from the peak equity of the UTC day, as a FRACTION (0.05 = 5%), not a percent.';
COMMENT ON COLUMN portfolio_snapshots.max_drawdown_pct IS
    'Largest drawdown from peak equity since the run began, as a FRACTION (0.05 = 5%).';
COMMENT ON COLUMN portfolio_snapshots.realized_pnl IS 'Realized PnL after all fees paid.';
COMMENT ON COLUMN portfolio_snapshots.unrealized_pnl IS
    'Sum of (mark - average entry) x quantity of the open positions.';

COMMENT ON TABLE trades IS 'Fills only: a rejected or cancelled order creates no row here.';
COMMENT ON COLUMN trades.execution_price IS 'Price paid or received, slippage included (> 0).';
COMMENT ON COLUMN trades.reference_price IS 'Market price the fill is measured against.';
COMMENT ON COLUMN trades.slippage_bps IS
    'Signed slippage in basis points; positive means worse than the reference price.';
COMMENT ON COLUMN trades.fees IS 'Fee paid on this fill, in fee_currency.';
COMMENT ON TABLE orders IS
    'One row per order; status follows its latest result. Market orders have price NULL.';
COMMENT ON COLUMN orders.quantity IS 'Ordered quantity in base-asset units (BTC, not USDT).';
