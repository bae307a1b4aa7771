"""The console tests' fixtures (see `console_support`)."""

from tests.console.console_support import (  # noqa: F401  (fixtures)
    console_clock_fixture,
    console_fixture,
    console_pool_fixture,
)
