"""Alternative naming systems: namespaces as data, access methods, the naming probe.

No I/O at import. The sub-modules split the work the sans-I/O way (docs/architecture.md §3):
pure codecs (:mod:`probes.naming.ens`, :mod:`probes.naming.contenthash`), data
(:mod:`probes.naming.namespaces`), thin transports (:mod:`probes.naming.jsonrpc`,
:mod:`probes.naming.http`), one module per access method under
:mod:`probes.naming.methods`, and the probe that glues them (:mod:`probes.naming.probe`).
"""
