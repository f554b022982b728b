"""What can go wrong talking to MEXC; the base class says whether a retry can help."""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import PermanentError, TransientError


class ExchangeBannedError(PermanentError):
    """MEXC banned this IP (HTTP 418) for sending too many requests."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message,
            hint="stop every client on this IP; the ban lasts from 2 minutes to 3 days",
        )


class ExchangeForbiddenError(PermanentError):
    """MEXC's firewall refused the request (HTTP 403)."""


class ExchangeUnavailableError(TransientError):
    """MEXC does not answer (server errors or no connection) after several attempts."""


class ExchangeRequestError(PermanentError):
    """MEXC refused the request as invalid."""

    def __init__(self, code: int | None, msg: str, *, status: int, path: str) -> None:
        self.code = code
        self.msg = msg
        self.status = status
        self.path = path
        super().__init__(f"MEXC refused {path} (HTTP {status}, code {code}): {msg}")


class UnknownSymbolError(PermanentError):
    """A symbol is not traded on MEXC spot."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        lines = "; ".join(f"{symbol}: {why}" for symbol, why in problems.items())
        super().__init__(
            f"not tradable on MEXC spot: {lines}",
            hint="check the symbols' spelling (BTCUSDT) and that they are online on MEXC",
        )


class SubscriptionRefusedError(PermanentError):
    """MEXC refused a websocket subscription."""

    def __init__(self, channels: Sequence[str], reason: str) -> None:
        self.channels = tuple(channels)
        self.reason = reason
        super().__init__(f"MEXC refused the subscription to {', '.join(channels)}: {reason}")
