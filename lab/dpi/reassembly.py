"""Put byte ranges back in order by offset: TCP segments by sequence number (RFC 9293
section 3.4) and QUIC CRYPTO frames by offset (RFC 9000 section 19.6). No I/O.

Ranges may arrive in any order, repeat, or overlap (retransmissions); the bytes of an
offset are taken from the first range that carried it, as a receiver does.
"""

from __future__ import annotations


class Reassembler:
    """The contiguous prefix of a byte stream built from ``(offset, data)`` ranges, with
    at most ``limit`` bytes buffered (a range beyond it raises ValueError)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending: dict[int, bytes] = {}
        self._prefix = bytearray()

    @property
    def prefix(self) -> bytes:
        return bytes(self._prefix)

    def add(self, offset: int, data: bytes) -> bytes:
        """Add one range; returns the bytes it made contiguous (possibly none)."""
        if offset < 0 or offset + len(data) > self.limit:
            raise ValueError(f"range {offset}+{len(data)} outside 0..{self.limit}")
        before = len(self._prefix)
        if data and offset + len(data) > before:
            kept = self._pending.get(offset, b"")
            self._pending[offset] = data if len(data) > len(kept) else kept
        progressed = True
        while progressed:
            progressed = False
            for start in sorted(self._pending):
                end = len(self._prefix)
                if start > end:
                    break
                chunk = self._pending.pop(start)
                if start + len(chunk) > end:
                    self._prefix += chunk[end - start :]
                progressed = True
        return bytes(self._prefix[before:])
