"""pip-audit over everything installed in .venv (the project itself excepted).

Exit 1 when an installed package has a known vulnerability. When the package index this
machine reaches holds none of the installed versions, nothing can be audited: that is said
in one line and the exit code is 0 (the audit did not run, it did not pass).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent


def main() -> int:
    frozen = subprocess.run(
        [str(BIN / "pip"), "freeze", "--exclude-editable"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(frozen)
        done = subprocess.run(
            [str(BIN / "pip-audit"), "--progress-spinner", "off", "--format", "json",
             "-r", str(requirements)],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
    dependencies = json.loads(done.stdout or "{}").get("dependencies", [])
    vulnerable = [
        f"{d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}"
        for d in dependencies
        if d.get("vulns")
    ]
    for line in vulnerable:
        print(f"vulnerable: {line}")
    if vulnerable:
        return 1
    audited = [d for d in dependencies if "skip_reason" not in d]
    if dependencies and not audited:
        print(
            f"audit not run: pip-audit could audit none of the {len(dependencies)} installed"
            " packages (their versions are not on the package index this machine reaches)"
        )
        return 0
    if not audited:
        print(f"pip-audit failed: {done.stderr.strip()[:500]}", file=sys.stderr)
        return 1
    print(f"no known vulnerability in {len(audited)} audited packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
