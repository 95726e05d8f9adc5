"""The indicator registry: every indicator is one function in its pillar's module, carrying
its catalogue entry (docs/indicators.md) in the :func:`indicator` decorator. No I/O.

The modules of :data:`PILLAR_MODULES` register their indicators when imported; the
registry imports them on first use, so ``REGISTRY`` lists every indicator, in catalogue
order (module order, then declaration order), whoever imported what first.

Version 1 of every indicator fixes ONE formula where the catalogue offers alternatives;
``formula`` states it and ``reasoning`` says why it was chosen. All values are oriented so
that higher = more fragmented / concentrated / impaired, in [0, 1].

An indicator is computed from one :class:`Context`, and declares the :class:`Facts` it reads
from it. Fact sets are named by what they hold, not by how a database gives them, so
another backend can supply the same objects (analysis/compute.py loads them from SQL).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fragscope.analysis.asn import AsnMap
    from fragscope.analysis.comparison import OutcomeTable
    from fragscope.analysis.ech import EchFacts
    from fragscope.analysis.facts import RunFacts
    from fragscope.analysis.naming import DnsFacts, NamingFacts
    from fragscope.analysis.pathcontrol import PathControl
    from fragscope.analysis.result import Estimate
    from fragscope.analysis.scope import RunInfo
    from fragscope.analysis.sni import SniFacts

NAMING = "naming"
CONCENTRATION = "concentration"
TRANSPORT = "transport"
DESCRIPTIVE = "descriptive"
COMPOSITE = "composite"

HIGHER = "higher = more fragmented"

PILLAR_MODULES = (
    "fragscope.analysis.naming",
    "fragscope.analysis.transport",
    "fragscope.analysis.comparison",
)
"""The modules that hold indicators, in catalogue order."""


class Facts(StrEnum):
    """The fact sets an indicator can read from its :class:`Context`."""

    DNS = "dns"  # the run's resolver views, whoami egress and iterative verdicts (DnsFacts)
    NAMING = "naming"  # the run's alternative-namespace lookups (NamingFacts)
    TRANSPORT = "transport"  # the run's per-(target, address) transport facts (RunFacts)
    CONTROL_TRANSPORT = "control_transport"  # the same for the round's control run, if any
    OUTCOMES = "outcomes"  # the run's outcome per key over every channel (OutcomeTable)
    CONTROL_OUTCOMES = "control_outcomes"  # the same for the round's control run, if any
    ESTIMATES = "estimates"  # the run's other indicator values (for composites)
    PATH_CONTROL = "path_control"  # failures the same-path control explains (PathControl)
    SNI = "sni"  # the run's SNI A/B verdicts per (target, address, transport) (SniFacts)
    ECH = "ech"  # the run's ECH adoption and A/B verdicts per (target, address) (EchFacts)


class Later:
    """A fact set made on first read (the control's outcome table is built only if an
    indicator reads it)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class UndeclaredFacts(LookupError):
    """An indicator read a fact set it did not declare in ``needs``."""


@dataclass(frozen=True)
class Context:
    """Everything an indicator may read for one run. Each indicator gets a copy whose
    ``needs`` are its own declaration: reading anything else raises, so the declarations
    stay true. A fact set given as :class:`Later` is made on first read and then shared."""

    run: RunInfo
    present: set[str]
    mapping: AsnMap | None
    control_run: RunInfo | None
    facts: dict[Facts, Any]
    code: str = ""
    needs: frozenset[Facts] = frozenset()

    def _get(self, which: Facts) -> Any:
        if which not in self.needs:
            raise UndeclaredFacts(f"indicator {self.code} reads {which} without declaring it")
        value = self.facts[which]
        if isinstance(value, Later):
            value = self.facts[which] = value.make()
        return value

    @property
    def dns(self) -> DnsFacts:
        return self._get(Facts.DNS)  # type: ignore[no-any-return]

    @property
    def naming(self) -> NamingFacts:
        return self._get(Facts.NAMING)  # type: ignore[no-any-return]

    @property
    def transport(self) -> RunFacts:
        return self._get(Facts.TRANSPORT)  # type: ignore[no-any-return]

    @property
    def control_transport(self) -> RunFacts | None:
        return self._get(Facts.CONTROL_TRANSPORT)  # type: ignore[no-any-return]

    @property
    def outcomes(self) -> OutcomeTable:
        return self._get(Facts.OUTCOMES)  # type: ignore[no-any-return]

    @property
    def control_outcomes(self) -> OutcomeTable | None:
        return self._get(Facts.CONTROL_OUTCOMES)  # type: ignore[no-any-return]

    @property
    def path_control(self) -> PathControl:
        return self._get(Facts.PATH_CONTROL)  # type: ignore[no-any-return]

    @property
    def sni(self) -> SniFacts:
        return self._get(Facts.SNI)  # type: ignore[no-any-return]

    @property
    def ech(self) -> EchFacts:
        return self._get(Facts.ECH)  # type: ignore[no-any-return]

    @property
    def estimates(self) -> dict[str, Estimate]:
        return self._get(Facts.ESTIMATES)  # type: ignore[no-any-return]


Formula = Callable[[Context], "Estimate"]


_CAT = {"catalogue": True}  # a field of the catalogue (docs, `indicators list`)


@dataclass(frozen=True, slots=True)
class Indicator:
    """One catalogue entry: what it asks, how it is computed, from which tables and fact
    sets, and where the reports show it."""

    code: str = field(metadata=_CAT)
    title: str = field(metadata=_CAT)
    question: str = field(metadata=_CAT)
    unit: str = field(metadata=_CAT)
    direction: str = field(metadata=_CAT)
    formula: str = field(metadata=_CAT)
    reasoning: str = field(metadata=_CAT)
    version: int = field(metadata=_CAT)
    inputs: tuple[str, ...] = field(metadata=_CAT)
    min_n: int = field(metadata=_CAT)
    pillar: str = field(metadata=_CAT)
    needs_control: bool = field(default=False, metadata=_CAT)
    needs_asn: bool = field(default=False, metadata=_CAT)
    params_doc: dict[str, str] = field(default_factory=dict, metadata=_CAT)
    needs: tuple[Facts, ...] = ()
    compute: Formula | None = field(default=None, compare=False, repr=False)
    module: str = ""  # the pillar module's last name: naming, transport, comparison
    headline: int | None = None  # place in the reports' headline table
    brief: str | None = None  # the Council brief topic that quotes it
    brief_rank: int = 0  # its place among that topic's indicators

    def catalogue(self) -> dict[str, Any]:
        """The catalogue fields as plain data."""
        return {
            f: list(v) if isinstance(v, tuple) else v
            for f, v in ((f, getattr(self, f)) for f in CATALOGUE_FIELDS)
        }


CATALOGUE_FIELDS = tuple(
    name for name, f in Indicator.__dataclass_fields__.items() if f.metadata.get("catalogue")
)

_DECLARED: list[Indicator] = []


def indicator(
    *,
    code: str,
    title: str,
    question: str,
    unit: str,
    formula: str,
    reasoning: str,
    version: int,
    inputs: tuple[str, ...],
    min_n: int,
    pillar: str,
    needs: tuple[Facts, ...],
    direction: str = HIGHER,
    needs_control: bool = False,
    needs_asn: bool = False,
    params_doc: dict[str, str] | None = None,
    headline: int | None = None,
    brief: str | None = None,
    brief_rank: int = 0,
) -> Callable[[Formula], Formula]:
    """Register the decorated function as the formula of indicator ``code``."""

    def register(fn: Formula) -> Formula:
        if any(i.code == code for i in _DECLARED):
            raise ValueError(f"indicator {code} is declared twice")
        _DECLARED.append(
            Indicator(
                code=code,
                title=title,
                question=question,
                unit=unit,
                direction=direction,
                formula=formula,
                reasoning=reasoning,
                version=version,
                inputs=inputs,
                min_n=min_n,
                pillar=pillar,
                needs_control=needs_control,
                needs_asn=needs_asn,
                params_doc=dict(params_doc or {}),
                needs=needs,
                compute=fn,
                module=fn.__module__.rsplit(".", 1)[-1],
                headline=headline,
                brief=brief,
                brief_rank=brief_rank,
            )
        )
        return fn

    return register


class _Registry(Mapping[str, Indicator]):
    """Code -> indicator, in catalogue order; imports the pillar modules on first use."""

    def __init__(self) -> None:
        self._entries: dict[str, Indicator] | None = None

    def _load(self) -> dict[str, Indicator]:
        if self._entries is None:
            for name in PILLAR_MODULES:
                importlib.import_module(name)
            order = {m.rsplit(".", 1)[-1]: n for n, m in enumerate(PILLAR_MODULES)}
            stray = [i.code for i in _DECLARED if i.module not in order]
            if stray:
                raise RuntimeError(f"indicators outside PILLAR_MODULES: {', '.join(stray)}")
            ranked = sorted(enumerate(_DECLARED), key=lambda p: (order[p[1].module], p[0]))
            self._entries = {i.code: i for _, i in ranked}
        return self._entries

    def __getitem__(self, code: str) -> Indicator:
        return self._load()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


REGISTRY: Mapping[str, Indicator] = _Registry()
"""Code -> indicator, in catalogue order."""

PILLARS: dict[str, tuple[str, ...]] = {
    NAMING: ("N1", "N2", "N5", "N8", "N6"),
    CONCENTRATION: ("N7", "N7.spd", "N4.apd"),
    TRANSPORT: ("T1", "T2", "T3", "T4", "T5"),
}
"""C2's pillars (docs/indicators.md "Composite (C2) pillars"); ``X.param`` names a member
in X's params. A test checks them against each indicator's ``pillar``."""

PILLAR_MIN_COVERAGE = 0.6


def get(code: str) -> Indicator:
    """The indicator of a code; a clear error naming it otherwise."""
    try:
        return REGISTRY[code.upper()]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise KeyError(f"unknown indicator code {code!r} (known: {known})") from None


def in_module(module: str) -> tuple[str, ...]:
    """The codes declared in one pillar module (naming, transport, comparison)."""
    return tuple(c for c, i in REGISTRY.items() if i.module == module)


def headline_codes() -> tuple[str, ...]:
    """The codes of the reports' headline table, in its order."""
    ranked = sorted((i.headline, c) for c, i in REGISTRY.items() if i.headline is not None)
    return tuple(c for _, c in ranked)


def brief_codes(topic: str) -> tuple[str, ...]:
    """The codes the Council brief quotes under ``topic``, in its order."""
    ranked = sorted(
        (i.brief_rank, n, c) for n, (c, i) in enumerate(REGISTRY.items()) if i.brief == topic
    )
    return tuple(c for _, _, c in ranked)


def code_pattern() -> str:
    """A regular expression matching exactly the registered codes (the Summary schema's)."""
    return "^(" + "|".join(re.escape(c) for c in REGISTRY) + ")$"
