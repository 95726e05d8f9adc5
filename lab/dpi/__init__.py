"""The lab's DPI censors: userspace middleboxes that read the TLS ClientHello, over TCP and
inside QUIC Initials, and block by SNI or by the presence of ECH (docs/lab.md, "DPI
vantages").

Sans-I/O parsing and deciding live in :mod:`clienthello` (TLS records and the ClientHello),
:mod:`initial` (QUIC v1/v2 Initial decryption and CRYPTO reassembly), :mod:`packet` (IP,
TCP and UDP headers), :mod:`policy` (what a censor blocks, from the lab truth),
:mod:`inline` (the TSPU-like on-path engine) and :mod:`residual` (the GFW-like off-path
engine); :mod:`daemon` is the one module that does I/O (NFQUEUE, ``nft``).
"""
