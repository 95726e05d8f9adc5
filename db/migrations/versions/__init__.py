"""Alembic revision scripts, one per schema change. Importing does no I/O.

File names are numbered in chain order (``NNNN_<what>.py``: 0001 is the base, each next
number revises the one before; tests/test_migrations.py checks it). The revision ids
inside are older and never change, since databases store them in ``alembic_version``
(0004_dns.py holds revision 0100_dns, which revises 0200_transport, in 0003_transport.py).
Docs name migrations by revision id.
"""
