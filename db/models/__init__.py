"""SQLAlchemy 2.x models: the schema's single source of truth. No I/O.

Every table and column carries ``doc=`` (rendered into docs/schema.md by
``fragscope db describe``). ``core`` holds the shared tables (vocabularies, vantages,
runs, targets, the task ledger, indicator values), the observation envelope
(:class:`ObservationMixin`) and :func:`child_of`; each probe area keeps its tables in a
module of its own (``dns``, ``transport``, ``naming``) that imports ``core`` and nothing
else here. Importing this package puts every table in ``Base.metadata``, which the writer
and Alembic read. A new probe area adds a module here (imported below), a migration
and views (docs/campaigns.md, "For probe authors").
"""

from __future__ import annotations

from fragscope.db.models.core import (
    NAMING_CONVENTION,
    UUID_LEN,
    Base,
    IndicatorValue,
    NullObservation,
    ObservationMixin,
    Run,
    RunLease,
    Target,
    TaskDone,
    TaskFollowUp,
    Vantage,
    VocabFailure,
    VocabOperation,
    VocabPathOutcome,
    VocabTransport,
    child_of,
    envelope_args,
)
from fragscope.db.models.dns import (
    DnsAnswer,
    DnsIterativeStep,
    DnsObservation,
)
from fragscope.db.models.naming import (
    NamingObservation,
    NamingValue,
)
from fragscope.db.models.transport import (
    EchAttempt,
    EchConfigRow,
    EchObservation,
    PathObservation,
    QuicObservation,
    QuicTransportParam,
    QuicVnObservation,
    QuicVnVersion,
    SniAttempt,
    SniObservation,
    TlsObservation,
)

__all__ = [
    "NAMING_CONVENTION",
    "UUID_LEN",
    "Base",
    "DnsAnswer",
    "DnsIterativeStep",
    "DnsObservation",
    "EchAttempt",
    "EchConfigRow",
    "EchObservation",
    "IndicatorValue",
    "NamingObservation",
    "NamingValue",
    "NullObservation",
    "ObservationMixin",
    "PathObservation",
    "QuicObservation",
    "QuicTransportParam",
    "QuicVnObservation",
    "QuicVnVersion",
    "Run",
    "RunLease",
    "SniAttempt",
    "SniObservation",
    "Target",
    "TaskDone",
    "TaskFollowUp",
    "TlsObservation",
    "Vantage",
    "VocabFailure",
    "VocabOperation",
    "VocabPathOutcome",
    "VocabTransport",
    "child_of",
    "envelope_args",
]
