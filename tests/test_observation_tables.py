"""Lists of observation tables come from the metadata (issue 17). No I/O."""

from __future__ import annotations

from fragscope.analysis.summary import OBSERVATION_TABLES
from fragscope.db.models import Base, ObservationMixin
from fragscope.db.scope import observation_tables


def test_observation_tables_are_the_mixin_tables() -> None:
    mixed = {
        m.local_table.name for m in Base.registry.mappers if issubclass(m.class_, ObservationMixin)
    }
    assert set(observation_tables()) == mixed
    assert "dns_observations" in mixed and "null_observations" in mixed


def test_summary_keeps_its_table_order() -> None:
    # The coverage section lists tables in this order (reports' golden files hold it).
    assert OBSERVATION_TABLES == (
        "dns_observations",
        "naming_observations",
        "tls_observations",
        "quic_observations",
        "quic_vn_observations",
        "path_observations",
        "sni_observations",
        "ech_observations",
        "null_observations",
    )
