"""Start, find and stop the shared live feed of a state directory (`python -m engine feed`,
see `engine.marketdata.shared`). Two started at once: the second finds the first's lock and
ends."""

from __future__ import annotations

from engine.runtime.processes import StateDirProcess

FEED = StateDirProcess("feed", "feed")
feed_pid = FEED.pid
ensure_feed = FEED.ensure
stop_feed = FEED.stop
