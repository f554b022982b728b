"""Open an HTML file in headless Chromium and read what the page shows once loaded.

A copy of the page gets a script that, after the load event, writes what a reader would see
into the title: every image with its drawn size (0 x 0: it did not decode), every table with
its rows, the headings, and any script error. Chromium prints the DOM (`--dump-dom`) after
the page settled, and the title is read back from it. The flags keep Chromium off the
network (this machine has none) and out of the user's profile.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
)
_PROBE = """<script>
window.addEventListener('load', () => {
  const seen = {
    images: [...document.images].map(i => ({id: i.id, width: i.naturalWidth,
                                            height: i.naturalHeight, complete: i.complete})),
    tables: [...document.querySelectorAll('table')].map(t => t.rows.length),
    headings: [...document.querySelectorAll('h1,h2')].map(h => h.textContent),
    external: [...document.querySelectorAll('[src],[href]')]
      .map(e => e.getAttribute('src') || e.getAttribute('href'))
      .filter(u => !u.startsWith('data:') && !u.startsWith('#')),
    errors: window.__errors || [],
  };
  document.title = 'SEEN' + JSON.stringify(seen);
});
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)));
</script>"""


def seen_in_chromium(page: Path) -> dict[str, Any]:
    """What headless Chromium shows of `page` (see the module docstring)."""
    assert CHROMIUM is not None, "chromium is not installed: scripts/bootstrap installs it"
    with tempfile.TemporaryDirectory(prefix="claire-chromium-") as profile:
        probe = Path(profile) / "page.html"
        probe.write_text(page.read_text().replace("</body>", _PROBE + "</body>", 1))
        done = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}/user", "--dump-dom", probe.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    found = re.search(r"<title>SEEN(.*?)</title>", done.stdout, re.S)
    assert found, f"chromium showed nothing (exit {done.returncode}): {done.stderr[-2000:]}"
    seen: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return seen
