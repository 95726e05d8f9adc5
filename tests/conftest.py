"""Test-suite set-up: network safety, temporary databases. Fixtures of the lab and of
PostgreSQL live in their own plugin modules under tests/fixtures/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

# Traffic may go only to loopback and the lab's own namespace networks (docs/architecture.md §6).
os.environ["FRAGSCOPE_ALLOWED_NETS"] = "127.0.0.0/8,::1/128,10.99.0.0/16,fd99::/16"

pytest_plugins: list[str] = [
    "tests.fixtures.chain",
    "tests.fixtures.web_hosts",
    "tests.fixtures.hostile_peers",
    "tests.fixtures.analysis",
    "tests.fixtures.lab",
    "tests.fixtures.demo",
    "tests.fixtures.vantages",
    "tests.fixtures.postgres",
    "tests.fixtures.storage",
    "tests.fixtures.engine",
    "tests.fixtures.dns_servers",
    "tests.fixtures.reports",
    "tests.fixtures.naming",
]


# A test's markers follow from the fixtures it uses (directly or through other fixtures),
# so a new test is classified for `make test-fast` without anyone remembering to mark it.
FIXTURE_MARKERS: dict[str, str] = {
    "lab": "lab",  # the whole lab of real servers in network namespaces (root)
    "vantage_upstream": "lab",  # vantage namespaces, veths and nftables
    "postgres_server": "postgres",
    "engine_pg_url": "postgres",
}


# Session-scoped servers that bind fixed loopback addresses or ports. Under pytest-xdist
# (`make test-fast` runs `-n 3 --dist loadgroup`) every test that uses one of them goes to
# one worker, so each server starts once and never twice on the same address.
SHARED_SERVERS = frozenset(
    {
        *FIXTURE_MARKERS,
        "dns_world",
        "dns_views",
        "chain_lab",
        "ganache_chain",
        "web_lab",
        "hostile_peers",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers from fixtures; then the tests that start the whole lab themselves run first.

    The session's ``lab`` fixture holds the machine-wide lab lock from its first user to
    the end of the session, so a test that needs its own lab must run before that.
    """
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in used:
                item.add_marker(marker)
        if used & SHARED_SERVERS or item.get_closest_marker("own_lab"):
            item.add_marker(pytest.mark.xdist_group("shared-servers"))
    items.sort(key=lambda item: 0 if item.get_closest_marker("own_lab") else 1)


@pytest.fixture(scope="session", autouse=True)
def _lab_range_unreachable() -> None:
    """No packet for the lab's ranges may leave by the default route (docs/architecture.md §6).

    Tests that aim at 10.99.x without the lab up would otherwise send it off the machine.
    """
    if os.geteuid() == 0:
        from fragscope.lab.core.topology import install_safety_routes

        install_safety_routes()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fragscope.sqlite'}"


@pytest.fixture
def migrated_engine(sqlite_url: str) -> Iterator[Engine]:
    from fragscope.db import migrate
    from fragscope.db.connection import make_engine

    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
