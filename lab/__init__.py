"""The lab: a mini-Internet of real servers for tests, demos and benchmarks (DESIGN section 6).

Importing this package does no I/O.
"""
