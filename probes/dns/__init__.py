"""DNS probes: a lean Do53 codec and fast path, dnspython for DoT/DoH/DoQ, iteration, DNSSEC.

Layers (docs/architecture.md §3): ``names`` and ``codec`` and ``svcb`` are pure; ``transports`` and
``udp`` do the I/O; ``query`` and ``iterative`` are the probes.
"""
