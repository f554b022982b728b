"""A container healthcheck: `python -m engine.observability.healthcheck [PORT]`.

Asks the process's own /health; exits 0 when healthy, 1 with the failing checks otherwise
(Docker keeps that line as the health log). Standard library only, so it starts fast.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

DEFAULT_PORT = 9464


def main(argv: list[str]) -> int:
    port = int(argv[0]) if argv else DEFAULT_PORT
    url = f"http://127.0.0.1:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        failing = [f"{c['name']}: {c['detail']}" for c in body.get("checks", []) if not c["ok"]]
        print("unhealthy: " + "; ".join(failing))
        return 1
    except (OSError, ValueError) as exc:
        print(f"no answer from {url}: {exc}")
        return 1
    print(f"healthy: {len(body.get('checks', []))} checks pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
