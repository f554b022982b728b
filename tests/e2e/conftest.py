from tests.e2e.private import private  # noqa: F401  (the fixture)
