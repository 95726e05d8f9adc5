"""The indicator catalogue (shared/INDICATORS.md) as data: one entry per code. No I/O.

Version 1 of every indicator fixes ONE formula where the catalogue offers alternatives;
``formula`` states it and ``reasoning`` says why it was chosen. All values are oriented so
that higher = more fragmented / concentrated / impaired, in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAMING = "naming"
CONCENTRATION = "concentration"
TRANSPORT = "transport"
DESCRIPTIVE = "descriptive"
COMPOSITE = "composite"


@dataclass(frozen=True, slots=True)
class Indicator:
    """One catalogue entry: what it asks, how it is computed, and from which tables."""

    code: str
    title: str
    question: str
    unit: str
    direction: str
    formula: str
    reasoning: str
    version: int
    inputs: tuple[str, ...]
    min_n: int
    pillar: str
    needs_control: bool = False
    needs_asn: bool = False
    params_doc: dict[str, str] = field(default_factory=dict)


HIGHER = "higher = more fragmented"

_ENTRIES: tuple[Indicator, ...] = (
    Indicator(
        code="N1",
        title="Resolver Answer Divergence (RAD)",
        question="Do this vantage's resolvers answer A/AAAA queries differently from the "
        "control resolver (manipulation, split horizon, national roots)?",
        unit="share of (name, test resolver) pairs",
        direction=HIGHER,
        formula="RAD = 1 - (1/|P|) * sum_{(d,r) in P} cons(d,r), P = (name, test resolver) "
        "pairs of dns.query A/AAAA rows that the control resolver of the same run also "
        "answered; cons = 1 iff both rcodes are equal and in {NXDOMAIN, SERVFAIL}, or both "
        "are NOERROR without addresses, or the address sets intersect, or their origin-ASN "
        "sets intersect.",
        reasoning="The binary consistency rule (not the continuous Jaccard variant) because "
        "it does not flag CDNs that answer different addresses in the same AS; the ASN test "
        "is skipped (addresses only) when no mapping is given, which is recorded in params.",
        version=1,
        inputs=("dns_observations", "dns_answers"),
        min_n=5,
        pillar=NAMING,
        needs_control=True,
        params_doc={"asn_used": "whether the IP-to-ASN test took part", "mapping_date": "date"},
    ),
    Indicator(
        code="N2",
        title="Root-Zone View Divergence (RZD)",
        question="Does this vantage's resolver see the same set of top-level domains as the "
        "control resolver (alternative roots, blocked TLDs)?",
        unit="share of (TLD, test resolver) pairs",
        direction=HIGHER,
        formula="For single-label SOA/NS queries t: exists_r(t) = NOERROR with an answer "
        "record. RZD = |{(t,r) : exists_r(t) != exists_c(t)}| / |{(t,r)}| over test "
        "resolvers r and the control c of the same run; RZD+ (extra TLDs) and RZD- "
        "(missing TLDs) are kept in params.",
        reasoning="The control resolver's view stands in for the dated IANA list, so the "
        "same formula works in the lab and on the Internet; RZD is then exactly the "
        "|T|-weighted mix of RZD+ and RZD- of the catalogue.",
        version=1,
        inputs=("dns_observations", "dns_answers"),
        min_n=3,
        pillar=NAMING,
        needs_control=True,
    ),
    Indicator(
        code="N3",
        title="Alt-Namespace Collision Rate (ACR)",
        question="Which share of the TLDs that alternative namespaces serve also exist in the "
        "ICANN namespace or are special-use names?",
        unit="share of (alternative namespace, TLD) pairs",
        direction=HIGHER,
        formula="T_n = last labels of the names that an endpoint of alternative namespace n "
        "(naming_observations.endpoint_namespace, the root or chain that answered) found "
        "(outcome resolved or no_records) in the run; T_ref = the same for the run's ICANN "
        "endpoints, united with the IANA special-use labels (RFC 6761, 6762, 7686, 9476). "
        "ACR = sum_n |T_n ∩ T_ref| / sum_n |T_n| over the (n, TLD) pairs; params: ACR_n, "
        "the colliding labels and the pairwise Jaccard |T_n ∩ T_m| / |T_n ∪ T_m|.",
        reasoning="Structural, not vantage-dependent: reported descriptively outside C2. "
        "T_IANA is what the run's ICANN endpoints answer (the names asked decide which TLDs "
        "are seen), since analysis reads only the database; version 2 keys each row by "
        "the endpoint's namespace, not the name's (version 1's registry guess).",
        version=2,
        inputs=("naming_observations",),
        min_n=1,
        pillar=DESCRIPTIVE,
    ),
    Indicator(
        code="N4",
        title="Alt-Namespace Unreachability (1 - ANR)",
        question="Which share of alternative-namespace lookups got no answer at all?",
        unit="share of lookups",
        direction=HIGHER,
        formula="1 - ANR, ANR = successes / attempts over the lookups at endpoints of "
        "alternative namespaces (endpoint_namespace other than icann); a lookup is one task, "
        "a success when any of its attempts got an answer (outcome resolved, no_records or "
        "not_found). params: anr[n/m] = ANR_{n,m} per namespace and method (the run is the "
        "vantage); AGF = match / (match + mismatch) of the bridge and gateway lookups judged "
        "against the on-chain answer (fidelity), also per n/m; APD = 1 - k_indep / k over "
        "the working (namespace, method, endpoint) paths, k_indep those not needing an "
        "ICANN-DNS host name lookup, also per namespace.",
        reasoning="Descriptive (the catalogue keeps ANR outside the score); APD is the "
        "concentration pillar's member, taken from params. Version 2 keys lookups by the "
        "endpoint's namespace and folds retries into one lookup.",
        version=2,
        inputs=("naming_observations",),
        min_n=3,
        pillar=DESCRIPTIVE,
    ),
    Indicator(
        code="N5",
        title="Namespace Ambiguity Exposure (NAE)",
        question="For how many names do resolvers of different roots give different "
        "destinations (the RFC 2826 event)?",
        unit="share of names",
        direction=HIGHER,
        formula="Over every resolver of the run (all roles and namespaces), map each answer "
        "to a class (its ASN set if mapped, else its address set; NXDOMAIN its own class). "
        "amb(d) = 1 iff >= 2 distinct non-NXDOMAIN classes, or NXDOMAIN at one resolver and "
        "an answer at another. NAE = mean_d amb(d).",
        reasoning="One panel = all resolvers of the run; the split by cause stays in params.",
        version=1,
        inputs=("dns_observations", "dns_answers"),
        min_n=3,
        pillar=NAMING,
    ),
    Indicator(
        code="N6",
        title="DNSSEC non-validation (1 - DVR)",
        question="Which share of resolvers fail to validate DNSSEC?",
        unit="share of resolvers",
        direction=HIGHER,
        formula="val(r) = 1 iff r answers SERVFAIL for every name dns.iterative classified "
        "bogus in the run and sets AD=1 on every NOERROR answer for names classified "
        "secure; 1 - DVR = 1 - mean_r val(r) (w_r = 1).",
        reasoning="The run's own iterative validation supplies the bogus/secure test names, "
        "so no hard-coded domain (dnssec-failed.org) is needed and >= 2 names are used "
        "when present.",
        version=1,
        inputs=("dns_observations",),
        min_n=1,
        pillar=NAMING,
    ),
    Indicator(
        code="N7",
        title="Resolver concentration (normalised HHI)",
        question="How concentrated are the egress resolvers' operators (origin AS)?",
        unit="normalised HHI",
        direction=HIGHER,
        formula="s_i = share of whoami answers whose egress address maps to AS i; HHI = "
        "sum (100 s_i)^2; HHI* = (HHI/10^4 - 1/N) / (1 - 1/N), N = number of ASes "
        "(HHI* = 1 when N = 1). params: HHI, CR1, CR3.",
        reasoning="Egress AS is what the mapping gives; AS-to-organisation merging is left to "
        "a later version. SPD (single-provider dependence) needs NS records and is not in "
        "version 1.",
        version=1,
        inputs=("dns_observations",),
        min_n=1,
        pillar=CONCENTRATION,
        needs_asn=True,
    ),
    Indicator(
        code="N8",
        title="NXDOMAIN & Special-Use Integrity (NXI)",
        question="Do resolvers answer names that must not exist (random labels, .onion, "
        ".invalid, .alt)?",
        unit="share of (canary, resolver) tests",
        direction=HIGHER,
        formula="NXI = violations / tests over dns.query rows whose target is a canary "
        "(targets.role = canary) or ends in .onion, .invalid or .alt (RFC 7686, RFC 6761, "
        "RFC 9476); a violation = the resolver answered with an rcode other than NXDOMAIN.",
        reasoning="Timeouts are neither violations nor tests: they say nothing about rewriting.",
        version=1,
        inputs=("dns_observations", "targets"),
        min_n=3,
        pillar=NAMING,
    ),
    Indicator(
        code="T1",
        title="QUIC Advertised-vs-Reachable Gap (QARG)",
        question="Of the targets that advertise HTTP/3, how many cannot be reached over QUIC "
        "from this vantage?",
        unit="share of advertising targets",
        direction=HIGHER,
        formula="Adv = targets with Alt-Svc h3 on a TLS response (tls_observations.alt_svc_h3) "
        "or h3 in an HTTPS RR alpn; QARG = 1 - |{d in Adv : a QUIC handshake to any of its "
        "addresses completed}| / |Adv|.",
        reasoning="QARG (not the control differential) because it is defined at every vantage; "
        "the differential against the control is kept in params when a control run exists.",
        version=1,
        inputs=("tls_observations", "quic_observations"),
        min_n=3,
        pillar=TRANSPORT,
    ),
    Indicator(
        code="T2",
        title="UDP/443 Blocking Rate (UBR)",
        question="On the same addresses, does QUIC time out here while TLS works here and "
        "QUIC works from the control vantage?",
        unit="share of (target, address) pairs",
        direction=HIGHER,
        formula="UBR = |{(d,ip) : TLS_ok_v ∧ QUIC_timeout_v ∧ QUIC_ok_c}| / |{(d,ip) : "
        "TLS_ok_v ∧ QUIC_ok_c}|, same IP for TCP and QUIC (Elmenhorst et al. 2021); "
        "QUIC_timeout = no handshake and nothing or no completion came back.",
        reasoning="As in the catalogue; the control vantage is the round's run at the "
        "control label (default clean).",
        version=1,
        inputs=("tls_observations", "quic_observations"),
        min_n=3,
        pillar=TRANSPORT,
        needs_control=True,
    ),
    Indicator(
        code="T3",
        title="Non-Standard QUIC Version Share (NSV)",
        question="Which share of QUIC servers support neither QUIC v1 nor v2?",
        unit="share of QUIC servers",
        direction=HIGHER,
        formula="QUIC servers = (d,ip) that sent a Version Negotiation or completed a "
        "handshake; NSV = share whose VN list and negotiated version contain neither v1 "
        "(0x00000001) nor v2 (0x6b3343cf).",
        reasoning="NSV is the bounded share; the entropy H over version sets is T8's params.",
        version=1,
        inputs=("quic_vn_observations", "quic_observations"),
        min_n=3,
        pillar=TRANSPORT,
    ),
    Indicator(
        code="T4",
        title="Secure-Transport Modernity Gap (STM)",
        question="How far are reachable targets from TLS 1.3, h2 and h3?",
        unit="share (mean gap)",
        direction=HIGHER,
        formula="Over targets with a completed TLS handshake: STM = 1 - mean(TLS13, H2, H3), "
        "TLS13 = share negotiating TLSv1.3, H2 = share choosing ALPN h2, H3 = share with a "
        "completed QUIC handshake. params: the three shares and DG = TLS13_c - TLS13_v.",
        reasoning="H3 is measured on the same reachable set so the mean is of three shares of "
        "one denominator and the per-target gap is bootstrappable.",
        version=1,
        inputs=("tls_observations", "quic_observations"),
        min_n=3,
        pillar=TRANSPORT,
    ),
    Indicator(
        code="T5",
        title="IPv6 Fragmentation (V6F)",
        question="How many targets cannot be reached over IPv6 from this vantage?",
        unit="share of targets",
        direction=HIGHER,
        formula="V6F = 1 - AAAA_share * P6, AAAA_share = share of targets with an IPv6 "
        "address probed by transport.tls, P6 = share of those with an IPv6 TCP connect "
        "that succeeded; equivalently 1 - share of targets with working IPv6.",
        reasoning="Addresses probed stand in for AAAA answers so the figure needs only the "
        "transport rows; params flag whether the vantage reached any IPv6 address.",
        version=1,
        inputs=("tls_observations",),
        min_n=3,
        pillar=TRANSPORT,
    ),
    Indicator(
        code="T6",
        title="Discovery-channel divergence",
        question="Do Alt-Svc, HTTPS records and QUIC answers name the same hosts?",
        unit="1 - Jaccard",
        direction=HIGHER,
        formula="1 - mean over pairs of the Jaccard similarity between {Alt-Svc h3}, "
        "{HTTPS RR alpn h3} and {targets answering a QUIC handshake or VN}; pairs whose "
        "union is empty are skipped. params: advertised-not-served, served-not-advertised.",
        reasoning="Without dns tables only the Alt-Svc/QUIC pair is used (params say so).",
        version=1,
        inputs=("tls_observations", "quic_observations", "quic_vn_observations"),
        min_n=3,
        pillar=DESCRIPTIVE,
    ),
    Indicator(
        code="T7",
        title="HTTP/3 supply concentration",
        question="How concentrated in few ASes are the targets that serve HTTP/3?",
        unit="normalised HHI",
        direction=HIGHER,
        formula="HHI* of h3-capable targets (completed QUIC handshake) by the origin AS of the "
        "address; params: HHI, top-1 and top-3 share, and the same HHI* for TCP-only HTTPS "
        "targets as a baseline.",
        reasoning="Normalised HHI keeps the [0,1] orientation of the catalogue.",
        version=1,
        inputs=("quic_observations", "tls_observations"),
        min_n=3,
        pillar=DESCRIPTIVE,
        needs_asn=True,
    ),
    Indicator(
        code="T8",
        title="QUIC version hygiene",
        question="Which share of Version Negotiation responders still offer pre-standard or "
        "draft versions?",
        unit="share of VN responders",
        direction=HIGHER,
        formula="Share of (d,ip) whose VN list holds a gQUIC (Q0xx) or IETF draft (0xff0000xx) "
        "version; params: v1-only, v2, GREASE shares and entropy over version sets "
        "(log2, normalised by log2 K).",
        reasoning="Legacy versions are the hygiene risk; the other shares are descriptive.",
        version=1,
        inputs=("quic_vn_observations", "quic_vn_versions"),
        min_n=3,
        pillar=DESCRIPTIVE,
    ),
    Indicator(
        code="T9",
        title="Censorship asymmetry",
        question="On the same addresses, is interference aimed at TCP rather than QUIC?",
        unit="f_tcp / (f_tcp + f_quic)",
        direction="0.5 = symmetric; higher = TCP-centric interference",
        formula="Over (d,ip) where TLS and QUIC both worked from the control: f_tcp = share "
        "whose TLS failed here, f_quic = share whose QUIC failed here; value = f_tcp / "
        "(f_tcp + f_quic); params.raw_ratio = f_tcp / f_quic.",
        reasoning="The mapping to [0,1] is fixed by issue 9; NULL when neither failed.",
        version=1,
        inputs=("tls_observations", "quic_observations"),
        min_n=3,
        pillar=DESCRIPTIVE,
        needs_control=True,
    ),
    Indicator(
        code="O1",
        title="Extension Tolerance / Ossification (EXT)",
        question="Do paths drop TCP SYNs that carry ECN setup or an experimental option?",
        unit="share of baseline successes",
        direction=HIGHER,
        formula="EXT = broken / (works + broken) over path_observations tests tcp_ecn and "
        "tcp_exp_option (PATHspider classes: the baseline SYN answered, the experimental "
        "one not).",
        reasoning="Baseline failures (offline, transient) are outside the denominator, as in "
        "the catalogue's failures_ext / successes_base.",
        version=1,
        inputs=("path_observations",),
        min_n=3,
        pillar=DESCRIPTIVE,
    ),
    Indicator(
        code="C1",
        title="Cross-Vantage Divergence (CVD) to the control",
        question="How different are this vantage's outcomes from the control vantage's?",
        unit="Jensen-Shannon divergence (bits)",
        direction=HIGHER,
        formula="Outcome o(key) per (table, target, address or resolver) = ok or its failure "
        "class (transport), the rcode or failure (DNS), reply/outcome class (VN, path); a "
        "resolver is keyed by its role when it is the run's only resolver of that role (each "
        "vantage's own test resolver meets the control's), else by its address; "
        "P_v = distribution of o over keys common with the control; CVD = JSD(P_v || P_c) "
        "with log base 2. params: DIS = mean over common keys of 1[o_v != o_c].",
        reasoning="Restricting to common keys removes target-list differences.",
        version=1,
        inputs=("tls_observations", "quic_observations", "quic_vn_observations"),
        min_n=5,
        pillar=DESCRIPTIVE,
        needs_control=True,
    ),
    Indicator(
        code="C2",
        title="Architectural Fragmentation Index (AFI)",
        question="Taken together, how fragmented is the Internet seen from this vantage?",
        unit="index",
        direction=HIGHER,
        formula="Pillars Naming = {N1, N2, N5, N8, N6}, Concentration = {N7, N7.spd, N4.apd}, "
        "Transport = {T1, T2, T3, T4, T5}; P_p = mean of the members present if >= 60% are "
        "present; AFI = mean of the pillars present (w = 1/3 each, renormalised). CI from the "
        "members' bootstrap replicates combined index-wise (targets resampled jointly through "
        "the run's shared draws). params: the geometric variant and the AFI's 2.5-97.5% range "
        "under Dirichlet(1,..,1) pillar weights (1000 draws).",
        reasoning="OECD/JRC practice; members are already in [0,1].",
        version=1,
        inputs=(),
        min_n=1,
        pillar=COMPOSITE,
    ),
)

REGISTRY: dict[str, Indicator] = {i.code: i for i in _ENTRIES}
"""Code -> indicator, in catalogue order."""

PILLARS: dict[str, tuple[str, ...]] = {
    NAMING: ("N1", "N2", "N5", "N8", "N6"),
    CONCENTRATION: ("N7", "N7.spd", "N4.apd"),
    TRANSPORT: ("T1", "T2", "T3", "T4", "T5"),
}
"""C2's pillars (INDICATORS.md "Composite index"); ``X.param`` names a member in X's params."""

PILLAR_MIN_COVERAGE = 0.6


def get(code: str) -> Indicator:
    """The indicator of a code; a clear error naming it otherwise."""
    try:
        return REGISTRY[code.upper()]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise KeyError(f"unknown indicator code {code!r} (known: {known})") from None
