"""Start, find and stop the supervisor of a state directory (`python -m engine supervise`);
stopped before the servers, so it restarts none."""

from __future__ import annotations

from engine.runtime.processes import StateDirProcess

SUPERVISOR = StateDirProcess("supervise", "supervisor")
supervisor_pid = SUPERVISOR.pid
ensure_supervisor = SUPERVISOR.ensure
stop_supervisor = SUPERVISOR.stop
