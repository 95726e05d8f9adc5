"""RFC 9460 Appendix D test vectors: presentation form, wire form, expected parameters."""

from __future__ import annotations

_FOO_COM = "03666f6f076578616d706c6503636f6d00"
_FOO_ORG = "03666f6f076578616d706c65036f726700"

# (label, rdtype, presentation, wire hex, expected fields of probes.dns.svcb.SvcParams)
VECTORS: list[tuple[str, str, str, str, dict[str, object]]] = [
    (
        "d1-alias",
        "HTTPS",
        "0 foo.example.com.",
        "0000" + _FOO_COM,
        {"priority": 0, "target": "foo.example.com."},
    ),
    ("d2-fig3", "SVCB", "1 .", "000100", {"priority": 1, "target": "."}),
    (
        "d2-fig4",
        "SVCB",
        "16 foo.example.com. port=53",
        "0010" + _FOO_COM + "000300020035",
        {"priority": 16, "target": "foo.example.com.", "port": 53},
    ),
    (
        "d2-fig5",
        "SVCB",
        "1 foo.example.com. key667=hello",
        "0001" + _FOO_COM + "029b000568656c6c6f",
        {"priority": 1, "other": {667: b"hello"}},
    ),
    (
        "d2-fig6",
        "SVCB",
        '1 foo.example.com. key667="hello\\210qoo"',
        "0001" + _FOO_COM + "029b000968656c6c6fd2716f6f",
        {"other": {667: b"hello\xd2qoo"}},
    ),
    (
        "d2-fig7",
        "SVCB",
        '1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"',
        "0001"
        + _FOO_COM
        + "00060020"
        + "20010db8000000000000000000000001"
        + "20010db8000000000000000000530001",
        {"ipv6hint": ("2001:db8::1", "2001:db8::53:1")},
    ),
    (
        "d2-fig8",
        "SVCB",
        '1 example.com. ipv6hint="2001:db8:122:344::192.0.2.33"',
        "0001076578616d706c6503636f6d00" + "00060010" + "20010db80122034400000000c0000221",
        {"target": "example.com.", "ipv6hint": ("2001:db8:122:344::c000:221",)},
    ),
    (
        "d2-fig9",
        "SVCB",
        "16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1",
        "0010" + _FOO_ORG + "000000040001000400010009026832056833" + "2d3139" + "00040004c0000201",
        {
            "priority": 16,
            "target": "foo.example.org.",
            "alpn": ("h2", "h3-19"),
            "mandatory": (1, 4),
            "ipv4hint": ("192.0.2.1",),
        },
    ),
    (
        "d2-fig10",
        "SVCB",
        '16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"',
        "0010" + _FOO_ORG + "0001000c08665c6f6f2c62617202" + "6832",
        {"alpn": ("f\\oo,bar", "h2")},
    ),
]
