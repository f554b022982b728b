"""Risk: turn signals into market orders or denials, each with a reason code; watch drawdown
and market data freshness. Pure domain (no I/O, no clock): see `engine.domain.risk.engine`.
"""

from engine.domain.risk.engine import RiskEngine
from engine.domain.risk.model import (
    PortfolioView,
    RiskAlertCode,
    RiskOutcome,
    RiskReason,
    RiskState,
)
from engine.domain.risk.sizing import DEFAULT_QUANTITY_STEP, size_quantity

__all__ = [
    "DEFAULT_QUANTITY_STEP",
    "PortfolioView",
    "RiskAlertCode",
    "RiskEngine",
    "RiskOutcome",
    "RiskReason",
    "RiskState",
    "size_quantity",
]
