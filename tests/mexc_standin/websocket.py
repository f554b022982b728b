"""The websocket half of the MEXC stand-in: subscriptions, acks, pongs and pushes.

Runs on the stand-in's event loop; counters are guarded by the stand-in's lock so the
test thread can read them.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

#: Subscriptions MEXC accepts on one connection.
MAX_SUBSCRIPTIONS = 30
BLOCKED = "Blocked! "
TOO_MANY = "Subscription limit (30) exceeded! "


def dumps(value: object) -> str:
    """Serialize compactly, as MEXC does."""
    return json.dumps(value, separators=(",", ":"))


def refusal_text(channels: list[str], reason: str) -> str:
    """Return MEXC's refusal message (a full-width colon, two spaces, as MEXC sends it)."""
    return f"Not Subscribed successfully! [{','.join(channels)}].  Reason\uff1a {reason}"


def mixed_text(accepted: list[str], refused: list[str], reason: str) -> str:
    """Return the one answer MEXC may give to a subscription it takes in part."""
    return f"Subscribed successful! [{','.join(accepted)}]. {refusal_text(refused, reason)}"


class WebsocketHub:
    """Every open websocket connection and what each is subscribed to."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._sockets: dict[web.WebSocketResponse, set[str]] = {}
        self._refused: list[re.Pattern[str]] = []
        self._silent_until = 0.0
        self._mixed_answers = False
        self.connections_accepted = 0
        self.subscriptions_accepted = 0
        self.pings_answered = 0

    @property
    def open_connections(self) -> int:
        """Return how many connections are open."""
        with self._lock:
            return len(self._sockets)

    def subscriptions(self) -> list[frozenset[str]]:
        """Return the channels of each open connection."""
        with self._lock:
            return [frozenset(channels) for channels in self._sockets.values()]

    def go_silent(self, seconds: float) -> None:
        """Send nothing for `seconds`."""
        with self._lock:
            self._silent_until = time.monotonic() + seconds

    def refuse(self, pattern: str) -> None:
        """Refuse channels matching `pattern` as Blocked."""
        with self._lock:
            self._refused.append(re.compile(pattern))

    def answer_mixed(self) -> None:
        """Answer a subscription taken in part with one message naming both lists."""
        with self._lock:
            self._mixed_answers = True

    def _silent(self) -> bool:
        with self._lock:
            return time.monotonic() < self._silent_until

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one websocket connection until it closes."""
        ws = web.WebSocketResponse(timeout=2.0)
        await ws.prepare(request)
        with self._lock:
            self._sockets[ws] = set()
            self.connections_accepted += 1
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_text(ws, message.data)
        finally:
            with self._lock:
                self._sockets.pop(ws, None)
        return ws

    async def _send(self, ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
        if not self._silent() and not ws.closed:
            await ws.send_str(dumps(payload))

    async def _on_text(self, ws: web.WebSocketResponse, text: str) -> None:
        try:
            request = json.loads(text)
            method = str(request.get("method", "")).upper()
        except (ValueError, AttributeError):
            await self._send(ws, {"id": 0, "code": 0, "msg": "Wrong json format"})
            return
        ident = request.get("id", 0)
        params = [str(p) for p in request.get("params", [])]
        if method == "PING":
            if not self._silent():
                with self._lock:
                    self.pings_answered += 1
            await self._send(ws, {"id": ident, "code": 0, "msg": "PONG"})
        elif method == "SUBSCRIPTION":
            await self._subscribe(ws, ident, params)
        elif method == "UNSUBSCRIPTION":
            with self._lock:
                self._sockets.get(ws, set()).difference_update(params)
            await self._send(ws, {"id": ident, "code": 0, "msg": ",".join(params)})
        else:
            await self._send(ws, {"id": ident, "code": 0, "msg": f"Unknown method {method}"})

    def _reason(self, channel: str, taken: int) -> str | None:
        """Return why `channel` is refused on a connection with `taken` subscriptions."""
        if ".pb" not in channel or any(p.search(channel) for p in self._refused):
            return BLOCKED
        if taken >= MAX_SUBSCRIPTIONS:
            return TOO_MANY
        return None

    async def _subscribe(self, ws: web.WebSocketResponse, ident: object, params: list[str]) -> None:
        refused: dict[str, list[str]] = {}
        with self._lock:
            channels = self._sockets.setdefault(ws, set())
            accepted = []
            for channel in params:
                reason = self._reason(channel, len(channels))
                if reason is None:
                    channels.add(channel)
                    accepted.append(channel)
                else:
                    refused.setdefault(reason, []).append(channel)
            self.subscriptions_accepted += len(accepted)
            mixed = bool(self._mixed_answers and accepted and refused)
        if mixed:
            names = [name for group in refused.values() for name in group]
            msg = mixed_text(accepted, names, next(iter(refused)))
            await self._send(ws, {"id": ident, "code": 0, "msg": msg})
            return
        if accepted:
            await self._send(ws, {"id": ident, "code": 0, "msg": ",".join(accepted)})
        for reason, names in refused.items():
            await self._send(ws, {"id": ident, "code": 0, "msg": refusal_text(names, reason)})

    async def broadcast(self, channel: str, data: bytes) -> int:
        """Send a binary frame to every connection subscribed to `channel`; return how many."""
        if self._silent():
            return 0
        with self._lock:
            targets = [ws for ws, channels in self._sockets.items() if channel in channels]
        sent = 0
        for ws in targets:
            if not ws.closed:
                await ws.send_bytes(data)
                sent += 1
        return sent

    async def close_all(self) -> int:
        """Close every connection (going away); return how many were open."""
        with self._lock:
            sockets = list(self._sockets)
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY) for ws in sockets), return_exceptions=True
        )
        return len(sockets)
