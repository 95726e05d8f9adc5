"""``fragscope campaign check``: what a loaded campaign must meet before it measures. Reads files.

Static: it plans the campaign as ``run --dry-run`` does (probes/engine/planonly.py),
reads the campaign's target lists and trust-anchor files, and sends nothing. Each
finding names its rule and the file, line and key it is about (docs/campaigns.md,
"Campaign check"). Errors stop ``fragscope run`` (exit 2); warnings are printed.

Rules:

- ``endpoint-idle``: every endpoint receives at least one task;
- ``namespace-unreached``: every namespace with canaries (names of a naming probe's lists,
  by explicit namespace or TLD) is asked of at least one endpoint of that namespace; a
  catch-all endpoint (``namespaces = ["*"]``) does not count, it is not the namespace's;
- ``namespace-unknown``: a list line names a namespace the registry does not know;
- ``placeholder-politeness``: a campaign that leaves the lab has a contact and a
  User-Agent, neither of them a placeholder (RFC 2606 / RFC 6761 reserved names);
- ``trust-anchor``: a probe that validates DNSSEC from the real root has a trust anchor
  file (by default the shipped IANA anchors) holding a key that signs the root now
  (probes/dns/data/root-keys.toml), with IANA's digest; anchors revoked or due for
  revocation are warnings;
- ``endpoint-freshness`` (warning): an endpoint's ``last_documented`` is absent or more
  than 12 months old;
- ``control-filtered``: a control endpoint declares a ``filtering`` other than ``none``
  (every name it blocks would read as divergence at the test resolvers, N1 and C1), or,
  in a campaign that leaves the lab, declares none;
- ``endpoint-properties`` (warning): a dns.query resolver of a campaign that leaves the
  lab does not declare ``filtering`` or ``validates_dnssec`` (docs/campaigns.md);
- ``endpoint-blocked`` (warning): a URL an endpoint reaches (its own, or a UNS layer's) is an IP
  literal that the campaign's own ``[safety]`` refuses (blocklist, or outside
  ``allowed``): every task to it would be a ``blocked_by_policy`` row. Host names are not
  looked up (the check sends nothing); ``run --dry-run`` lists them with their verdict.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fragscope.db.last_seen import LastSeen
from fragscope.db.vocab import Role
from fragscope.lab.core.guard import LAB_NETS
from fragscope.probes.base import FILTERING
from fragscope.probes.endpoints import EndpointURLError, contacted_urls, parse_endpoint_url
from fragscope.probes.engine.campaign import Campaign, CampaignError, TargetSource
from fragscope.probes.engine.planonly import build_policy, planning_runner
from fragscope.probes.engine.shard_runner import ShardRunner
from fragscope.probes.engine.targets import numbered_entries
from fragscope.probes.engine.tomlpos import PathPart, key_lines, line_of
from fragscope.probes.safety import Network, NetworkPolicy, parse_networks

DNS_DATA = Path(__file__).resolve().parent.parent / "dns" / "data"
ROOT_ANCHORS = DNS_DATA / "root-anchors.txt"
ROOT_KEYS = DNS_DATA / "root-keys.toml"
STALE_AFTER = dt.timedelta(days=365)
"""An operator's page read longer ago than this no longer vouches for the endpoint."""
REVOCATION_NOTICE = dt.timedelta(days=180)
"""A root key due for revocation within this time is announced (warning) beforehand."""
LOOPBACK_NETS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))

# RFC 2606 section 2-3 and RFC 6761 section 6: names reserved for examples and tests,
# which reach no one when an operator of a measured service writes to them.
_PLACEHOLDER = re.compile(
    r"(?:^|[@.\s/<(])(?:[a-z0-9-]+\.)*"
    r"(?:example\.(?:com|net|org)|[a-z0-9-]+\.(?:example|test|invalid|localhost))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule: ``where`` is ``file:line: key`` (or a list file's ``file:line``)."""

    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.rule}] {self.message}"


@dataclass(frozen=True, slots=True)
class CheckReport:
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class RootKey:
    name: str
    key_tag: int
    signs_from: dt.date
    signs_until: dt.date | None
    revoked_on: dt.date | None

    def signs_on(self, day: dt.date) -> bool:
        return self.signs_from <= day and (self.signs_until is None or day < self.signs_until)


def inside_lab(networks: Iterable[str | Network] | None) -> bool:
    """True when ``networks`` (an allowlist) is set and lies inside loopback and the lab's
    networks (lab.core.guard): traffic it allows reaches no operator."""
    if networks is None:
        return False
    nets = [ipaddress.ip_network(n, strict=False) for n in networks]
    inside = (*LAB_NETS, *LOOPBACK_NETS)
    return bool(nets) and all(
        any(net.version == o.version and net.subnet_of(o) for o in inside)  # type: ignore[arg-type]
        for net in nets
    )


def is_lab_campaign(campaign: Campaign) -> bool:
    """A campaign confined by its ``[safety] allowed`` to loopback and the lab's networks:
    placeholders and the real root's keys do not matter to it."""
    return inside_lab(campaign.safety.allowed)


def load_root_keys(path: Path = ROOT_KEYS) -> dict[int, RootKey]:
    """The root KSKs by key tag, with when each signs and when it is revoked."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[int, RootKey] = {}
    for item in data["key"]:
        out[int(item["key_tag"])] = RootKey(
            name=str(item["name"]),
            key_tag=int(item["key_tag"]),
            signs_from=item["signs_from"],
            signs_until=item.get("signs_until"),
            revoked_on=item.get("revoked_on"),
        )
    return out


def _anchor_digests(path: Path | str) -> dict[int, set[tuple[int, str]]]:
    """Key tag -> {(digest type, digest hex)} of a trust anchor file's DS and DNSKEY lines
    (a DNSKEY counts with its SHA-256 digest, RFC 4509)."""
    import dns.dnssec
    import dns.name
    import dns.rdatatype

    from fragscope.probes.dns.iterative import load_anchors

    out: dict[int, set[tuple[int, str]]] = defaultdict(set)
    for rrset in load_anchors(str(path)):
        if rrset.name != dns.name.root:
            continue
        for rd in rrset:
            if rrset.rdtype == dns.rdatatype.DS:
                out[rd.key_tag].add((rd.digest_type, rd.digest.hex().upper()))
            else:
                ds = dns.dnssec.make_ds(dns.name.root, rd, "SHA256")
                out[dns.dnssec.key_id(rd)].add((ds.digest_type, ds.digest.hex().upper()))
    return out


class _Where:
    """``file:line: key`` of a campaign key (tomlpos), for findings."""

    def __init__(self, campaign: Campaign) -> None:
        self.file = campaign.path
        self.lines = key_lines(campaign.path.read_text(encoding="utf-8"))

    def __call__(self, *key_path: PathPart) -> str:
        line = line_of(self.lines, key_path)
        dotted = ".".join(str(k) if isinstance(k, str) else f"[{k}]" for k in key_path)
        dotted = dotted.replace(".[", "[")
        return f"{self.file}:{line}: {dotted}" if line else f"{self.file}: {dotted}"


def check_campaign(
    campaign: Campaign,
    *,
    today: dt.date | None = None,
    policy: NetworkPolicy | None = None,
    confined: bool = False,
    last_seen: LastSeen | None = None,
) -> CheckReport:
    """Every rule over ``campaign`` (loaded by probes.engine.campaign.load_campaign).

    ``confined``: the run this check precedes cannot leave the lab whatever the file says
    (FRAGSCOPE_ALLOWED_NETS confines it, as in the test suite): the rules about the real
    Internet (politeness, root anchors, freshness) are then skipped, as for a lab campaign.
    ``last_seen``: when each endpoint last answered, per vantage (db/last_seen.py, from a
    database's successful rows); endpoints not seen working for 12 months are warnings.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    where = _Where(campaign)
    errors: list[Finding] = []
    warnings: list[Finding] = []
    lab = confined or is_lab_campaign(campaign)
    try:
        runner = planning_runner(campaign, policy=policy or build_policy(campaign))
    except Exception as exc:
        # A probe that cannot start from its settings (a root hints file that does not
        # parse, say): exit 2 with the reason, never a traceback.
        raise CampaignError(
            campaign.path, None, "probes", f"a probe cannot start: {type(exc).__name__}: {exc}"
        ) from exc
    per_endpoint: Counter[str] = Counter()
    reached: dict[str, set[str]] = defaultdict(set)
    """Namespace -> labels of endpoints of that namespace asked a name of it."""
    canaries, unknown = _canaries(campaign, runner)
    idle = {ep.label or ep.url for ep in campaign.endpoints}
    unreached = set(canaries)
    for task in runner.tasks():
        ep = task.endpoint
        if ep is None:
            continue
        key = ep.label or ep.url
        per_endpoint[key] += 1
        idle.discard(key)
        ns = task.params.get("namespace")
        if isinstance(ns, str) and _endpoint_is_of(ep.namespace, ep.options, ns):
            reached[ns].add(key)
            unreached.discard(ns)
        if not idle and not unreached:
            # Every endpoint has work and every namespace its endpoint: planning the rest
            # (a long list) would change no finding, and ``run`` plans it again anyway.
            break
    for i, ep in enumerate(campaign.endpoints):
        key = ep.label or ep.url
        if per_endpoint[key] == 0:
            errors.append(
                Finding(
                    "endpoint-idle",
                    where("endpoints", i, "label" if ep.label else "url"),
                    f"endpoint {key!r} receives no task: no probe lists it, or none of "
                    "the names of its probes' lists belongs to a namespace it serves",
                )
            )
    errors.extend(unknown)
    errors.extend(_unreached(canaries, reached))
    errors.extend(_control_findings(campaign, where, lab=lab))
    warnings.extend(_address_findings(campaign, where))
    if not lab:
        warnings.extend(_property_findings(campaign, where))
        errors.extend(_politeness_findings(campaign, where))
        anchor_errors, anchor_warnings = _anchor_findings(campaign, where, today)
        errors.extend(anchor_errors)
        warnings.extend(anchor_warnings)
        warnings.extend(_freshness_findings(campaign, where, today))
        if last_seen is not None:
            warnings.extend(_last_seen_findings(campaign, where, today, last_seen))
    return CheckReport(tuple(errors), tuple(warnings))


def _endpoint_is_of(namespace: str, options: Any, wanted: str) -> bool:
    """The endpoint is one of ``wanted``'s own: its namespace, or named in its
    ``namespaces`` option (a catch-all ``*`` is not)."""
    served = options.get("namespaces") or ()
    return namespace == wanted or wanted in served


def _canaries(
    campaign: Campaign, runner: ShardRunner
) -> tuple[dict[str, tuple[Path, int, str]], list[Finding]]:
    """The namespaces with canaries in the lists of the probes that route names by
    namespace (naming.resolve), each with the first list line holding one of its names,
    and the ``namespace-unknown`` findings of those lists."""
    canaries: dict[str, tuple[Path, int, str]] = {}
    unknown: list[Finding] = []
    for planned in runner.planned_probes:
        if not planned.takes_namespace:
            continue
        probe = planned.instance
        registry = probe.registry
        for source in _lists_of(campaign, planned.settings.lists):
            for number, entry in numbered_entries(source):
                if isinstance(entry, str):
                    continue
                if entry.namespace is not None and entry.namespace not in registry.namespaces:
                    known = ", ".join(sorted(registry.namespaces))
                    unknown.append(
                        Finding(
                            "namespace-unknown",
                            f"{source.path}:{number}",
                            f"{entry.name}: unknown namespace {entry.namespace!r}; known: {known}",
                        )
                    )
                    continue
                ns_name = entry.namespace or probe.namespace_of(entry.name)
                ns = registry.namespaces.get(ns_name)
                # ICANN names need no alternative endpoint; special-use names and
                # namespaces without an access method (onion, gns) have none to reach.
                if ns is None or ns_name == "icann" or ns.special_use or not ns.methods:
                    continue
                canaries.setdefault(ns_name, (source.path, number, entry.name))
    return canaries, unknown


def _unreached(
    canaries: dict[str, tuple[Path, int, str]], reached: dict[str, set[str]]
) -> Iterable[Finding]:
    for ns_name, (path, number, name) in sorted(canaries.items()):
        if not reached.get(ns_name):
            yield Finding(
                "namespace-unreached",
                f"{path}:{number}",
                f"namespace {ns_name!r} has canaries ({name}, ...) but no endpoint of "
                f"namespace {ns_name!r} is asked any of them: add one, or name the "
                "namespace after the name where its TLD cannot say",
            )


def _lists_of(campaign: Campaign, names: Sequence[str] | None) -> list[TargetSource]:
    return [t for t in campaign.targets if names is None or t.list_name in names]


def _politeness_findings(campaign: Campaign, where: _Where) -> Iterable[Finding]:
    """A measured operator must be able to tell who measures and reach them
    (docs/ethics.md): the contact and User-Agent are present and not placeholders."""
    pol = campaign.politeness
    for key, value in (("contact", pol.contact), ("user_agent", pol.user_agent)):
        if not value:
            yield Finding(
                "placeholder-politeness",
                where("politeness", key) if _has_table(where, "politeness") else where(),
                f"[politeness] {key} is missing: a campaign that leaves the lab sends it "
                "on every HTTP request (docs/ethics.md)",
            )
            continue
        match = _PLACEHOLDER.search(value)
        if match:
            found = match.group(0).lstrip("@.</( \t")
            yield Finding(
                "placeholder-politeness",
                where("politeness", key),
                f"[politeness] {key} holds the placeholder {found!r} (a reserved example "
                "name, RFC 2606): put an address that reaches you",
            )


def _has_table(where: _Where, name: str) -> bool:
    return line_of(where.lines, [name]) is not None


def _anchor_findings(
    campaign: Campaign, where: _Where, today: dt.date
) -> tuple[list[Finding], list[Finding]]:
    """Probes with a ``trust_anchor`` setting validate DNSSEC from the root: their anchor
    must hold a key that signs the root today, with IANA's digest (RFC 9718)."""
    errors: list[Finding] = []
    warnings: list[Finding] = []
    keys = load_root_keys()
    iana = _anchor_digests(ROOT_ANCHORS)
    for settings in campaign.probes:
        if not hasattr(settings.config, "trust_anchor"):
            continue
        at = where("probes", settings.name, "trust_anchor")
        # Without a trust_anchor the probe validates from the shipped IANA anchors.
        path = settings.config.trust_anchor or str(ROOT_ANCHORS)
        try:
            anchors = _anchor_digests(path)
        except (OSError, ValueError, SyntaxError) as exc:
            errors.append(Finding("trust-anchor", at, f"cannot read {path}: {exc}"))
            continue
        signing = [k for k in keys.values() if k.signs_on(today)]
        for tag, digests in sorted(anchors.items()):
            known = keys.get(tag)
            if known is None:
                warnings.append(
                    Finding("trust-anchor", at, f"key tag {tag} is not a root KSK IANA lists")
                )
                continue
            if not digests & iana.get(tag, set()):
                errors.append(
                    Finding(
                        "trust-anchor",
                        at,
                        f"{known.name} (key tag {tag}): the digest differs from IANA's "
                        f"({ROOT_ANCHORS.name}); the anchor would match no root key",
                    )
                )
            if known.revoked_on is not None:
                revoked = known.revoked_on <= today
                state = "was revoked on" if revoked else "is due for revocation on"
                if known.revoked_on <= today + REVOCATION_NOTICE:
                    warnings.append(
                        Finding(
                            "trust-anchor",
                            at,
                            f"{known.name} (key tag {tag}) {state} {known.revoked_on}",
                        )
                    )
        good = [k for k in signing if k.key_tag in anchors and anchors[k.key_tag] & iana[k.key_tag]]
        if not good:
            names = ", ".join(f"{k.name} (key tag {k.key_tag})" for k in signing)
            errors.append(
                Finding(
                    "trust-anchor",
                    at,
                    f"no anchor matches a key that signs the root DNSKEY RRset on {today}: "
                    f"{names}; every validation from the root would be bogus",
                )
            )
    return errors, warnings


def _control_findings(campaign: Campaign, where: _Where, *, lab: bool) -> Iterable[Finding]:
    """The control is the reference of N1 and C1 (docs/indicators.md): it must answer
    every name, so a filtering control is refused, and outside the lab an undeclared one."""
    for i, ep in enumerate(campaign.endpoints):
        if ep.role != Role.CONTROL:
            continue
        key = ep.label or ep.url
        if ep.filtering is not None and ep.filtering != "none":
            yield Finding(
                "control-filtered",
                where("endpoints", i, "filtering"),
                f"control endpoint {key!r} filters ({ep.filtering}: {FILTERING[ep.filtering]}):"
                " every name it blocks would count as divergence at the test resolvers (N1, "
                "C1); make the operator's unfiltered service the control",
            )
        elif ep.filtering is None and not lab:
            yield Finding(
                "control-filtered",
                where("endpoints", i, "label" if ep.label else "url"),
                f'control endpoint {key!r} declares no filtering: set filtering = "none" '
                "from its operator's documentation, or choose a control that documents none",
            )


def _address_findings(campaign: Campaign, where: _Where) -> Iterable[Finding]:
    """Endpoint URLs (UNS layers included) whose IP literal the campaign's own safety
    settings refuse; FRAGSCOPE_ALLOWED_NETS is left out: it confines a run, it does not
    make the file wrong."""
    own = NetworkPolicy(
        allowed=parse_networks(campaign.safety.allowed) or None,
        blocked=parse_networks(campaign.safety.blocked),
    )
    for i, ep in enumerate(campaign.endpoints):
        key = ep.label or ep.url
        for n, url in enumerate(contacted_urls(ep.url, ep.options)):
            try:
                parsed = parse_endpoint_url(url)
            except EndpointURLError as exc:
                yield Finding(
                    "endpoint-blocked",
                    where("endpoints", i, "options", "layers"),
                    f"endpoint {key!r}: UNS layer {url!r} is not an endpoint URL: {exc}",
                )
                continue
            if not parsed.is_ip_literal or own.allows(parsed.host):
                continue
            what = "its URL" if n == 0 else f"its UNS layer {url}"
            yield Finding(
                "endpoint-blocked",
                where("endpoints", i, "url" if n == 0 else "options"),
                f"endpoint {key!r}: {what} goes to {parsed.host}, which the campaign's "
                "[safety] refuses (blocklist, or outside allowed): every task to it would "
                "be blocked_by_policy",
            )


def _property_findings(campaign: Campaign, where: _Where) -> Iterable[Finding]:
    """dns.query's resolvers without the properties N1, C1 and N6 read."""
    used: set[str] | None = set()
    for settings in campaign.probes:
        if settings.name == "dns.query":
            if settings.endpoints is None:
                used = None
                break
            assert used is not None
            used.update(settings.endpoints)
    for i, ep in enumerate(campaign.endpoints):
        key = ep.label or ep.url
        if used is not None and key not in used:
            continue
        missing = [
            name
            for name, value in (
                ("filtering", ep.filtering),
                ("validates_dnssec", ep.validates_dnssec),
            )
            if value is None
        ]
        if missing:
            yield Finding(
                "endpoint-properties",
                where("endpoints", i, "label" if ep.label else "url"),
                f"resolver {key!r} does not declare {' or '.join(missing)}: set it from its "
                "operator's documentation (N6 leaves out a documented non-validating resolver)",
            )


def _freshness_findings(campaign: Campaign, where: _Where, today: dt.date) -> Iterable[Finding]:
    for i, ep in enumerate(campaign.endpoints):
        key = ep.label or ep.url
        doc = ep.last_documented
        if doc is None:
            yield Finding(
                "endpoint-freshness",
                where("endpoints", i, "label" if ep.label else "url"),
                f"endpoint {key!r}: no last_documented (the operator's page and the day "
                "it was checked)",
            )
        elif today - doc.date > STALE_AFTER:
            yield Finding(
                "endpoint-freshness",
                where("endpoints", i, "last_documented"),
                f"endpoint {key!r}: last documented {doc.date} ({doc.url}), more than "
                "12 months ago",
            )


def _last_seen_findings(
    campaign: Campaign, where: _Where, today: dt.date, last_seen: LastSeen
) -> Iterable[Finding]:
    for i, ep in enumerate(campaign.endpoints):
        key = ep.label or ep.url
        seen = last_seen.get(ep.url, {})
        at = where("endpoints", i, "label" if ep.label else "url")
        if not seen:
            yield Finding(
                "endpoint-freshness", at, f"endpoint {key!r}: no vantage has seen it answer"
            )
            continue
        latest_vantage, latest = max(seen.items(), key=lambda item: item[1])
        if today - latest.date() > STALE_AFTER:
            yield Finding(
                "endpoint-freshness",
                at,
                f"endpoint {key!r}: last seen answering on {latest.date()} (vantage "
                f"{latest_vantage}), more than 12 months ago",
            )
