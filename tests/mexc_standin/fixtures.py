"""The `mexc_standin` fixture.

Import it into a test module under its function name, so the test parameter
`mexc_standin` does not shadow an import (ruff F811):
`from tests.mexc_standin.fixtures import mexc_standin_fixture  # noqa: F401`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mexc_standin.server import MexcStandIn


@pytest.fixture(name="mexc_standin")
def mexc_standin_fixture() -> Iterator[MexcStandIn]:
    """Yield a started stand-in listing BTCUSDT and ETHUSDT; stop it afterwards."""
    standin = MexcStandIn().start()
    standin.add_symbol("BTCUSDT")
    standin.add_symbol("ETHUSDT")
    try:
        yield standin
    finally:
        standin.stop()


#: The same fixture under its fixture name, for `from ... import mexc_standin`.
mexc_standin = mexc_standin_fixture
