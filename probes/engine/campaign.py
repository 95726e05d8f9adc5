"""Campaign files: load a TOML campaign, validate every key, report file:line:key. Reads files.

A campaign says what to measure (target lists, an endpoint panel, probes and their
settings), how politely (limits, rate, contact, User-Agent) and where not to go (safety).
Anything wrong raises :class:`CampaignError` before a single row is written; the CLI maps
it to exit code 2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import ipaddress
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fragscope.db.vocab import Role
from fragscope.probes import config_rules, registry
from fragscope.probes.base import FILTERING, Documented, Endpoint
from fragscope.probes.endpoints import EndpointURLError, parse_endpoint_url
from fragscope.probes.engine import labels
from fragscope.probes.engine.tomlpos import PathPart, key_lines, line_of


class CampaignError(Exception):
    """A campaign (or a file it names) is invalid; ``str()`` is ``file:line: key: message``."""

    def __init__(self, file: str | Path, line: int | None, key: str, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.key = key
        self.message = message
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


TARGET_FORMATS = ("tranco", "lines")
RESERVED_PROBE_KEYS = frozenset({"endpoints", "lists", "deadline", "retries"})
"""Keys of a ``[probes."name"]`` table the engine reads; every other key is probe config."""


@dataclass(frozen=True, slots=True)
class TargetSource:
    """One target list: a file of ``rank,domain[,address]`` rows or of plain names."""

    list_name: str
    path: Path
    format: str
    namespace: str = "icann"
    role: Role = Role.TEST
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    concurrency: int = 64
    rate: float = 20.0
    burst: int = 5
    deadline: float = 10.0
    retries: int = 0
    backoff: float = 1.0


LIMIT_HELP: dict[str, str] = {
    "concurrency": "tasks in flight at once (global cap)",
    "rate": "default queries per second per endpoint (token bucket)",
    "burst": "token bucket depth: queries an idle endpoint may receive at once",
    "deadline": "seconds a task may take before it is recorded as generic_timeout_error",
    "retries": "extra attempts for retryable failures (timeouts), stored as attempts 1..N",
    "backoff": "seconds before the first retry; doubles per retry",
}


@dataclass(frozen=True, slots=True)
class Safety:
    allowed: tuple[str, ...] = ()
    allow_whole_family: bool = False
    """The operator acknowledged that ``allowed`` spans all of IPv4 or all of IPv6."""
    blocklist: Path | None = None
    blocked: tuple[str, ...] = ()
    """The networks of the blocklist file (ZMap format: one network per line, # comments)."""


@dataclass(frozen=True, slots=True)
class Politeness:
    contact: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    name: str
    config: Any
    endpoints: tuple[str, ...] | None = None
    """Labels of the panel endpoints this probe uses (None = all)."""
    lists: tuple[str, ...] | None = None
    """Target lists this probe measures (None = all)."""
    deadline: float | None = None
    retries: int | None = None


@dataclass(frozen=True)
class Campaign:
    name: str
    path: Path
    vantage: str
    round: str | None
    repeat: int
    targets: tuple[TargetSource, ...]
    endpoints: tuple[Endpoint, ...]
    probes: tuple[ProbeSettings, ...]
    limits: Limits = field(default_factory=Limits)
    safety: Safety = field(default_factory=Safety)
    politeness: Politeness = field(default_factory=Politeness)
    description: str | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)
    """JSON-ready copy of the file as loaded, with its SHA-256 (stored on the run)."""
    warnings: tuple[str, ...] = ()
    """What the operator should hear before the run starts (`fragscope run` prints them)."""


class _Checker:
    """Validation helpers that know the file and its key lines."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.lines = key_lines(source)
        self.base = path.resolve().parent

    def fail(self, key_path: Sequence[PathPart], message: str) -> typing.NoReturn:
        raise CampaignError(self.path, line_of(self.lines, key_path), _dotted(key_path), message)

    def table(self, value: Any, key_path: Sequence[PathPart]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key_path, f"expected a table, got {_kind(value)}")
        return value

    def known(
        self,
        table: Mapping[str, Any],
        allowed: set[str] | frozenset[str],
        *,
        at: Sequence[PathPart],
    ) -> None:
        for key in table:
            if key not in allowed:
                self.fail([*at, key], f"unknown key; expected one of {', '.join(sorted(allowed))}")

    def string(
        self, table: Mapping[str, Any], key: str, *, at: Sequence[PathPart], required: bool = False
    ) -> str | None:
        if key not in table:
            if required:
                self.fail(at, f"missing required key {key!r}")
            return None
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.fail([*at, key], f"expected a non-empty string, got {_kind(value)}")
        return value

    def number(
        self,
        table: Mapping[str, Any],
        key: str,
        *,
        at: Sequence[PathPart],
        integer: bool = False,
        minimum: float = 0,
        exclusive: bool = False,
    ) -> Any:
        if key not in table:
            return None
        value = table[key]
        ok_types = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            self.fail(
                [*at, key],
                f"expected {'an integer' if integer else 'a number'}, got {_kind(value)}",
            )
        if not math.isfinite(value):
            self.fail([*at, key], f"must be a finite number, got {value}")
        if value < minimum or (exclusive and value == minimum):
            self.fail([*at, key], f"must be {'>' if exclusive else '>='} {minimum}, got {value}")
        return value

    def label(
        self,
        table: Mapping[str, Any],
        key: str,
        *,
        at: Sequence[PathPart],
        limit: int = labels.DEFAULT_LIMIT,
        required: bool = False,
    ) -> str | None:
        """A string that is stored or printed as a label: it fits ``limit`` characters
        (its column's length) and holds no control characters."""
        value = self.string(table, key, at=at, required=required)
        if value is not None:
            problem = labels.label_problem(value, limit=limit)
            if problem is not None:
                self.fail([*at, key], problem)
        return value

    def file(self, value: str, key_path: Sequence[PathPart], what: str) -> Path:
        """The file ``value`` names, which must exist: see :func:`locate`."""
        found, tried = locate(value, self.base)
        if found is None:
            self.fail(
                key_path,
                f"{what} {labels.shown(value)} does not exist "
                f"(looked for {' and '.join(repr(str(t)) for t in tried)})",
            )
        return found

    def strings(
        self, table: Mapping[str, Any], key: str, *, at: Sequence[PathPart]
    ) -> tuple[str, ...] | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail([*at, key], f"expected a list of strings, got {_kind(value)}")
        return tuple(value)


def locate(value: str, base: Path) -> tuple[Path | None, list[Path]]:
    """The file a campaign names, and the places looked at.

    A relative path is looked up next to the campaign file first, then in the working
    directory (docs/campaigns.md, "Paths"): target lists ship next to their campaign,
    while a lab's CA (``lab-run/pki/ca.pem``) lives where ``fragscope lab up`` ran.
    """
    path = Path(value).expanduser()
    tried = [path] if path.is_absolute() else [base / path, Path.cwd() / path]
    for candidate in tried:
        if candidate.is_file():
            return candidate.resolve(), tried
    return None, tried


def _dotted(path: Sequence[PathPart]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if part.replace("_", "").replace("-", "").isalnum() else f'"{part}"'
            out += f".{text}" if out else text
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"{type(value).__name__} {value!r}"


TOP_KEYS = frozenset(
    {
        "name",
        "description",
        "vantage",
        "round",
        "repeat",
        "targets",
        "endpoints",
        "probes",
        "limits",
        "safety",
        "politeness",
    }
)
TARGET_KEYS = frozenset({"list", "file", "format", "namespace", "role", "limit"})
ENDPOINT_KEYS = frozenset(
    {
        "url",
        "label",
        "operator",
        "role",
        "namespace",
        "rate",
        "options",
        "last_documented",
        "filtering",
        "validates_dnssec",
    }
)
SAFETY_KEYS = frozenset({"allowed", "allow_whole_family", "blocklist"})
FILE_OPTIONS = frozenset({"ca_file"})
"""Endpoint ``options`` that name a file (the naming probe's CA bundle)."""


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file; raise :class:`CampaignError` on any problem."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise CampaignError(path, None, "", f"cannot read campaign file: {exc.strerror}") from None
    try:
        source = raw_bytes.decode("utf-8")
        data = tomllib.loads(source)
    except UnicodeDecodeError:
        raise CampaignError(path, None, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute; its message has one.
        match = re.search(r"at line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (int(match[1]) if match else None)
        raise CampaignError(path, line, "", f"TOML syntax error: {exc}") from None
    chk = _Checker(path, source)
    chk.known(data, TOP_KEYS, at=[])

    name = chk.label(data, "name", at=[], required=True, limit=labels.CAMPAIGN_LIMIT)
    assert name is not None
    vantage = chk.label(data, "vantage", at=[], limit=labels.VANTAGE_LIMIT) or "default"
    round_ = chk.label(data, "round", at=[], limit=labels.ROUND_LIMIT)
    description = chk.string(data, "description", at=[])
    repeat = chk.number(data, "repeat", at=[], integer=True, minimum=1)

    targets = _targets(chk, data.get("targets"))
    endpoints = _endpoints(chk, data.get("endpoints", []))
    limits = _limits(chk, data.get("limits", {}))
    safety, warnings = _safety(chk, data.get("safety", {}))
    politeness = _politeness(chk, data.get("politeness", {}))
    probes = _probes(
        chk,
        data.get("probes"),
        list_names={t.list_name for t in targets},
        endpoint_labels={e.label or e.url for e in endpoints},
        politeness=politeness,
    )
    snapshot = json.loads(json.dumps(data, default=str))
    snapshot["_file"] = str(path.resolve())
    snapshot["_sha256"] = hashlib.sha256(raw_bytes).hexdigest()
    return Campaign(
        name=name,
        path=path.resolve(),
        vantage=vantage,
        round=round_,
        repeat=repeat or 1,
        targets=targets,
        endpoints=endpoints,
        probes=probes,
        limits=limits,
        safety=safety,
        politeness=politeness,
        description=description,
        snapshot=snapshot,
        warnings=warnings,
    )


def _targets(chk: _Checker, value: Any) -> tuple[TargetSource, ...]:
    if value is None:
        chk.fail([], "missing [[targets]]: at least one target list is needed")
    if not isinstance(value, list) or not value:
        chk.fail(["targets"], "expected one or more [[targets]] tables")
    out: list[TargetSource] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        at: list[PathPart] = ["targets", i]
        table = chk.table(item, at)
        chk.known(table, TARGET_KEYS, at=at)
        file = chk.string(table, "file", at=at, required=True)
        assert file is not None
        file_path = chk.file(file, [*at, "file"], "target file")
        list_name = chk.label(table, "list", at=at, limit=labels.LIST_LIMIT) or file_path.stem
        if list_name in seen:
            chk.fail([*at, "list"], f"list name {list_name!r} used twice")
        seen.add(list_name)
        fmt = chk.string(table, "format", at=at) or (
            "tranco" if file_path.suffix.lower() == ".csv" else "lines"
        )
        if fmt not in TARGET_FORMATS:
            chk.fail([*at, "format"], f"expected one of {', '.join(TARGET_FORMATS)}, got {fmt!r}")
        role = _role(chk, table, at=at)
        limit = chk.number(table, "limit", at=at, integer=True, minimum=1)
        out.append(
            TargetSource(
                list_name=list_name,
                path=file_path,
                format=fmt,
                namespace=chk.label(table, "namespace", at=at, limit=labels.NAMESPACE_LIMIT)
                or "icann",
                role=role,
                limit=limit,
            )
        )
    return tuple(out)


def _role(chk: _Checker, table: Mapping[str, Any], *, at: Sequence[PathPart]) -> Role:
    role = chk.string(table, "role", at=at)
    if role is None:
        return Role.TEST
    try:
        return Role(role)
    except ValueError:
        chk.fail([*at, "role"], f"expected one of {', '.join(r.value for r in Role)}, got {role!r}")


def _endpoints(chk: _Checker, value: Any) -> tuple[Endpoint, ...]:
    if not isinstance(value, list):
        chk.fail(["endpoints"], "expected [[endpoints]] tables")
    out: list[Endpoint] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        at: list[PathPart] = ["endpoints", i]
        table = chk.table(item, at)
        chk.known(table, ENDPOINT_KEYS, at=at)
        url = chk.string(table, "url", at=at, required=True)
        assert url is not None
        try:
            parse_endpoint_url(url)
        except EndpointURLError as exc:
            chk.fail([*at, "url"], f"bad URL: {exc}")
        label = chk.label(table, "label", at=at)
        key = label or url
        if key in seen:
            chk.fail([*at, "label" if label else "url"], f"endpoint {key!r} listed twice")
        seen.add(key)
        rate = chk.number(table, "rate", at=at, minimum=0, exclusive=True)
        options = table.get("options", {})
        if not isinstance(options, dict):
            chk.fail([*at, "options"], f"expected a table, got {_kind(options)}")
        options = dict(options)
        for key in FILE_OPTIONS & options.keys():
            if not isinstance(options[key], str):
                chk.fail([*at, "options", key], f"expected a path, got {_kind(options[key])}")
            options[key] = str(chk.file(options[key], [*at, "options", key], key))
        out.append(
            Endpoint(
                url=url,
                operator=chk.label(table, "operator", at=at, limit=labels.OPERATOR_LIMIT),
                role=_role(chk, table, at=at),
                namespace=chk.label(table, "namespace", at=at, limit=labels.NAMESPACE_LIMIT)
                or "icann",
                label=label,
                rate=float(rate) if rate is not None else None,
                options=types.MappingProxyType(options),
                last_documented=_documented(chk, table.get("last_documented"), at=at),
                filtering=_filtering(chk, table, at=at),
                validates_dnssec=_flag(chk, table, "validates_dnssec", at=at),
            )
        )
    return tuple(out)


def _filtering(chk: _Checker, table: Mapping[str, Any], *, at: Sequence[PathPart]) -> str | None:
    """An endpoint's ``filtering``, one of :data:`~fragscope.probes.base.FILTERING`."""
    value = chk.string(table, "filtering", at=at)
    if value is not None and value not in FILTERING:
        chk.fail(
            [*at, "filtering"],
            f"expected one of {', '.join(FILTERING)}, got {labels.shown(value)}",
        )
    return value


def _flag(
    chk: _Checker, table: Mapping[str, Any], key: str, *, at: Sequence[PathPart]
) -> bool | None:
    value = table.get(key)
    if value is not None and not isinstance(value, bool):
        chk.fail([*at, key], f"expected true or false, got {_kind(value)}")
    return value


def _documented(chk: _Checker, value: Any, *, at: Sequence[PathPart]) -> Documented | None:
    """An endpoint's ``last_documented = { date = 2026-12-07, url = "https://..." }``."""
    if value is None:
        return None
    where = [*at, "last_documented"]
    table = chk.table(value, where)
    chk.known(table, {"date", "url"}, at=where)
    date = table.get("date")
    # A TOML local date (no time): the day the operator's page was read.
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        chk.fail([*where, "date"], f"expected a date such as 2026-12-07, got {_kind(date)}")
    url = chk.string(table, "url", at=where, required=True)
    assert url is not None
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        chk.fail([*where, "url"], f"expected the operator's http(s) URL, got {labels.shown(url)}")
    return Documented(date=date, url=url)


def _limits(chk: _Checker, value: Any) -> Limits:
    at: list[PathPart] = ["limits"]
    table = chk.table(value, at)
    chk.known(table, set(LIMIT_HELP), at=at)
    defaults = Limits()
    concurrency = chk.number(table, "concurrency", at=at, integer=True, minimum=1)
    rate = chk.number(table, "rate", at=at, minimum=0, exclusive=True)
    burst = chk.number(table, "burst", at=at, integer=True, minimum=1)
    deadline = chk.number(table, "deadline", at=at, minimum=0, exclusive=True)
    retries = chk.number(table, "retries", at=at, integer=True, minimum=0)
    backoff = chk.number(table, "backoff", at=at, minimum=0)
    return Limits(
        concurrency=concurrency if concurrency is not None else defaults.concurrency,
        rate=float(rate) if rate is not None else defaults.rate,
        burst=burst if burst is not None else defaults.burst,
        deadline=float(deadline) if deadline is not None else defaults.deadline,
        retries=retries if retries is not None else defaults.retries,
        backoff=float(backoff) if backoff is not None else defaults.backoff,
    )


def _safety(chk: _Checker, value: Any) -> tuple[Safety, tuple[str, ...]]:
    """The safety settings and the warnings they call for."""
    at: list[PathPart] = ["safety"]
    table = chk.table(value, at)
    chk.known(table, SAFETY_KEYS, at=at)
    allowed = chk.strings(table, "allowed", at=at) or ()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for net in allowed:
        try:
            networks.append(ipaddress.ip_network(net, strict=False))
        except ValueError:
            chk.fail([*at, "allowed"], f"{net!r} is not a network (e.g. 10.99.0.0/16)")
    acknowledged = table.get("allow_whole_family", False)
    if not isinstance(acknowledged, bool):
        chk.fail([*at, "allow_whole_family"], f"expected true or false, got {_kind(acknowledged)}")
    warnings: list[str] = []
    whole = whole_families(networks)
    if whole and not acknowledged:
        chk.fail(
            [*at, "allowed"],
            f"allows every {' and every '.join(whole)} address; "
            "if that is meant, also set allow_whole_family = true",
        )
    if whole:
        warnings.append(
            f"{chk.path}: safety.allowed allows every {' and every '.join(whole)} address "
            "(allow_whole_family = true): only the blocklist limits where probes go"
        )
    blocklist = chk.string(table, "blocklist", at=at)
    blocked: tuple[str, ...] = ()
    blocklist_path = None
    if blocklist is not None:
        blocklist_path = chk.file(blocklist, [*at, "blocklist"], "blocklist file")
        blocked = read_blocklist(blocklist_path)
    safety = Safety(
        allowed=allowed,
        allow_whole_family=acknowledged,
        blocklist=blocklist_path,
        blocked=blocked,
    )
    return safety, tuple(warnings)


def whole_families(
    networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> list[str]:
    """The address families (``IPv4``, ``IPv6``) that ``networks`` cover entirely.

    Adjacent networks count together (0.0.0.0/1 and 128.0.0.0/1 are all of IPv4).
    """
    v4 = ipaddress.collapse_addresses(n for n in networks if isinstance(n, ipaddress.IPv4Network))
    v6 = ipaddress.collapse_addresses(n for n in networks if isinstance(n, ipaddress.IPv6Network))
    out = []
    if any(n.prefixlen == 0 for n in v4):
        out.append("IPv4")
    if any(n.prefixlen == 0 for n in v6):
        out.append("IPv6")
    return out


def read_blocklist(path: Path) -> tuple[str, ...]:
    """Networks of a ZMap-format blocklist (``192.0.2.0/24  # why``); errors name the line."""
    out: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                out.append(str(ipaddress.ip_network(text, strict=False)))
            except ValueError:
                raise CampaignError(
                    path, number, "", f"{text!r} is not a network (ZMap blocklist format)"
                ) from None
    return tuple(out)


def _politeness(chk: _Checker, value: Any) -> Politeness:
    at: list[PathPart] = ["politeness"]
    table = chk.table(value, at)
    chk.known(table, {"contact", "user_agent"}, at=at)
    # Both are sent on the wire (an HTTP header, a DNS TXT): a newline would inject lines.
    return Politeness(
        contact=chk.label(table, "contact", at=at, limit=labels.TEXT_LIMIT),
        user_agent=chk.label(table, "user_agent", at=at, limit=labels.TEXT_LIMIT),
    )


def _probes(
    chk: _Checker,
    value: Any,
    *,
    list_names: set[str],
    endpoint_labels: set[str],
    politeness: Politeness,
) -> tuple[ProbeSettings, ...]:
    if value is None:
        chk.fail([], 'missing [probes."name"]: at least one probe is needed')
    table = chk.table(value, ["probes"])
    if not table:
        chk.fail(["probes"], "no probe configured")
    out: list[ProbeSettings] = []
    for name, settings in table.items():
        at: list[PathPart] = ["probes", name]
        cls = registry.find(name)
        if cls is None:
            chk.fail(at, f"unknown probe {name!r}; known: {', '.join(registry.all_probes())}")
        settings = chk.table(settings, at)
        config_fields = {f.name: f for f in dataclasses.fields(cls.config_class)}
        chk.known(settings, set(config_fields) | RESERVED_PROBE_KEYS, at=at)
        endpoints = chk.strings(settings, "endpoints", at=at)
        for label in endpoints or ():
            if label not in endpoint_labels:
                chk.fail([*at, "endpoints"], f"no endpoint labelled {label!r}")
        lists = chk.strings(settings, "lists", at=at)
        for list_name in lists or ():
            if list_name not in list_names:
                chk.fail([*at, "lists"], f"no target list named {list_name!r}")
        if cls.uses_endpoints and not (endpoints or endpoint_labels):
            chk.fail(
                at, f"probe {name!r} measures endpoints, and the campaign has no [[endpoints]]"
            )
        deadline = chk.number(settings, "deadline", at=at, minimum=0, exclusive=True)
        retries = chk.number(settings, "retries", at=at, integer=True, minimum=0)
        values = {k: v for k, v in settings.items() if k in config_fields}
        # Politeness reaches probes whose config has a user_agent/contact field.
        for key in ("user_agent", "contact"):
            if key in config_fields and key not in values and getattr(politeness, key):
                values[key] = getattr(politeness, key)
        config = build_config(
            cls.config_class,
            values,
            fail=lambda key, msg, at=at: chk.fail([*at, *key], msg),
            locate_file=lambda key, value, at=at: str(chk.file(value, [*at, key], key)),
        )
        out.append(
            ProbeSettings(
                name=name,
                config=config,
                endpoints=endpoints,
                lists=lists,
                deadline=float(deadline) if deadline is not None else None,
                retries=retries,
            )
        )
    return tuple(out)


def build_config(
    config_class: type[Any],
    values: Mapping[str, Any],
    *,
    fail: Any,
    locate_file: Any = None,
) -> Any:
    """Instantiate a probe's config dataclass from TOML values, checking each field's type
    and the rules its metadata declares (probes/config_rules.py).

    ``fail(key_path, message)`` is called (and must raise) for a bad value;
    ``locate_file(key, value)`` returns the absolute path of a file field's value (and
    fails when there is none).
    """
    hints = typing.get_type_hints(config_class)
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    converted: dict[str, Any] = {}
    for key, value in values.items():
        ok, result = _coerce(hints.get(key, Any), value)
        if not ok:
            fail([key], f"expected {_type_name(hints.get(key, Any))}, got {_kind(value)}")
        if key in fields:
            problem = config_rules.violation(fields[key], result)
            if problem is not None:
                fail([key], problem)
            if config_rules.is_file_field(fields[key]) and result is not None:
                if locate_file is None:
                    fail([key], "a file setting needs a campaign file to be relative to")
                result = locate_file(key, result)
        converted[key] = result
    try:
        return config_class(**converted)
    except (TypeError, ValueError) as exc:
        fail([], f"invalid probe settings: {exc}")


def _coerce(hint: Any, value: Any) -> tuple[bool, Any]:
    if hint is Any:
        return True, value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None) and value is None:
                return True, None
            ok, result = _coerce(arg, value)
            if ok:
                return True, result
        return False, None
    if origin is typing.Literal:
        return (value in args), value
    if origin in (tuple, list, frozenset, set):
        if not isinstance(value, list):
            return False, None
        item_hint = args[0] if args else Any
        items = []
        for item in value:
            ok, result = _coerce(item_hint, item)
            if not ok:
                return False, None
            items.append(result)
        return True, origin(items)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return isinstance(value, dict), value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return (isinstance(value, int) and not isinstance(value, bool)), value
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if hint is str:
        return isinstance(value, str), value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return True, hint(value)
        except ValueError:
            return False, None
    return True, value


def _type_name(hint: Any) -> str:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in hint)
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
