"""Fragmentation indicators computed from stored observations (docs/indicators.md).

Each indicator is one function in its pillar module (naming.py, transport.py,
comparison.py) registered with its catalogue entry (registry.py); compute.py loads the
facts they declare and walks the registry, reading and writing the database. The
indicator functions themselves do no I/O.
"""
