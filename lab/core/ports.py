"""Free ports on loopback and lab addresses, for servers started by tests and benches. Does I/O.

A port is found by binding port 0, then checked by binding it for TCP and UDP on every
address the server will listen on; the sockets are closed before returning, so a race with
another process remains possible but needs that process to pick the same port meanwhile.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence


def free_port(addresses: Sequence[str] = ("127.0.0.1",)) -> int:
    """A port free for TCP and UDP on every one of ``addresses`` (bound then released)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        socks = []
        try:
            for a in addresses:
                fam = socket.AF_INET6 if ":" in a else socket.AF_INET
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    s = socket.socket(fam, kind)
                    socks.append(s)
                    s.bind((a, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no port free for TCP and UDP on {', '.join(addresses)}")
