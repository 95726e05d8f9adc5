"""Transport probes: TCP+TLS, QUIC handshakes, QUIC Version Negotiation and path tests.

Importing this package does no I/O. The codecs (``quic_wire``, ``altsvc``) are pure; the
probe modules (``tls``, ``quic``, ``vn``, ``path``) do network I/O when measuring.
"""
