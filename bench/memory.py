"""Resident memory of this process: now, at its peak, and sampled along an event stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from engine.observability.memory import peak_rss_mb, rss_mb

__all__ = ["RssSamples", "peak_rss_mb", "rss_mb"]

T = TypeVar("T")


@dataclass
class RssSamples:
    """RSS sampled every `every` events of a stream: (events so far, MB)."""

    every: int
    samples: list[tuple[int, float]] = field(default_factory=list)

    def watch(self, events: Iterable[T]) -> Iterator[T]:
        """Yield `events` unchanged, sampling RSS before every `every`-th one."""
        for count, event in enumerate(events):
            if count % self.every == 0 and count:
                self.samples.append((count, rss_mb()))
            yield event

    def summary(self) -> dict[str, float]:
        """First, last and peak sample in MB (0 when nothing was sampled)."""
        values = [mb for _, mb in self.samples] or [0.0]
        return {"first": values[0], "last": values[-1], "peak": max(values)}
