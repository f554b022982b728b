"""What the report reads of a run from the database, recomputed by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, localcontext

import psycopg
import pytest

from engine.events import PositionSnapshot
from engine.reports.data import load_run_data
from engine.runs.registry import Run, RunParameters, RunRepository
from engine.storage.event_writer import EventWriter
from tests.factories import EPOCH, snapshot

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]


def _run(db: Db) -> Run:
    parameters = RunParameters(
        "1d", Decimal(100_000), ("BTCUSDT", "ETHUSDT"), "synthetic", "max", "momentum"
    )
    return RunRepository(db).create(
        Run("pt-data", None, "completed", parameters, None, None, None, EPOCH,
            EPOCH + timedelta(days=1), EPOCH + timedelta(days=1), "completed", Decimal(100_000))
    )  # fmt: skip


def test_curve_largest_position_is_quantity_times_mark_else_average_price_exactly(
    db: Db, database_conninfo: str
) -> None:
    run = _run(db)
    btc = PositionSnapshot(
        symbol="BTCUSDT",
        quantity=Decimal("0.050357300000000001"),
        average_price=Decimal("95000.12"),
        market_price=Decimal("95100.000000000000000003"),
    )
    eth = PositionSnapshot(  # no mark yet: its average price stands in
        symbol="ETHUSDT", quantity=Decimal("1.49457251"), average_price=Decimal("3474.8")
    )
    snapshots = [
        snapshot(0, run_id=run.run_id),  # flat
        snapshot(1, run_id=run.run_id, positions=(btc,)),
        snapshot(2, run_id=run.run_id, positions=(btc, eth)),
    ]
    with psycopg.connect(database_conninfo) as conn:
        EventWriter(conn, database_conninfo).write(snapshots)

    curve = load_run_data(db, run).curve

    with localcontext(prec=100):  # exact: the product has 40 digits
        by_hand_btc = Decimal("0.050357300000000001") * Decimal("95100.000000000000000003")
        by_hand_eth = Decimal("1.49457251") * Decimal("3474.8")
    assert [p.largest_position for p in curve] == [0, by_hand_btc, max(by_hand_btc, by_hand_eth)]
    assert curve[2].largest_position == by_hand_eth  # ETH's 5,193.34 over BTC's 4,788.98
