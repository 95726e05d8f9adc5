"""Batched datagram I/O on Linux: sendmmsg(2) and recvmmsg(2) through ctypes. Does I/O.

One system call moves up to ``BATCH`` datagrams on a connected UDP socket, which is what
took the lean prototype from ~70k to ~100k queries/s (docs/architecture.md
§8). Where libc lacks the calls, :data:`AVAILABLE` is False and callers fall back
to one send/recv per datagram.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import sys

BATCH = 64
BUFSIZE = 65536  # a whole UDP datagram always fits: nothing is ever cut
QUERY_SLOT = 512  # a query is at most 12 + 255 + 4 + 11 octets
MSG_DONTWAIT = 0x40


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_void_p),
        ("namelen", ctypes.c_uint32),
        ("iov", ctypes.POINTER(_IoVec)),
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    ]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", _MsgHdr), ("len", ctypes.c_uint)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    if not hasattr(libc, "sendmmsg") or not hasattr(libc, "recvmmsg"):
        return None
    return libc


_LIBC = _libc()
AVAILABLE = _LIBC is not None and ctypes.sizeof(_IoVec) == 16  # the length view below


class Batcher:
    """Buffers for one socket's batched sends and receives (not thread-safe)."""

    def __init__(self, fd: int) -> None:
        if not AVAILABLE or _LIBC is None:
            raise OSError(errno.ENOSYS, "sendmmsg/recvmmsg not available")
        self.fd = fd
        self._sendmmsg = _LIBC.sendmmsg
        self._recvmmsg = _LIBC.recvmmsg
        self.rbuf = ctypes.create_string_buffer(BATCH * BUFSIZE)
        self.riov = (_IoVec * BATCH)()
        self.rmsg = (_MMsgHdr * BATCH)()
        base = ctypes.addressof(self.rbuf)
        for i in range(BATCH):
            self.riov[i].base = base + i * BUFSIZE
            self.riov[i].len = BUFSIZE
            self.rmsg[i].hdr.iov = ctypes.pointer(self.riov[i])
            self.rmsg[i].hdr.iovlen = 1
        self.rview = memoryview(self.rbuf).cast("B")
        # The received lengths (msg_len of each mmsghdr) as plain unsigned ints.
        self.rlens = memoryview(self.rmsg).cast("B").cast("I")
        self.rstride = ctypes.sizeof(_MMsgHdr) // 4
        self.rfirst = _MMsgHdr.len.offset // 4
        self.sbuf = ctypes.create_string_buffer(BATCH * QUERY_SLOT)
        self.siov = (_IoVec * BATCH)()
        self.smsg = (_MMsgHdr * BATCH)()
        sbase = ctypes.addressof(self.sbuf)
        for i in range(BATCH):
            self.siov[i].base = sbase + i * QUERY_SLOT
            self.smsg[i].hdr.iov = ctypes.pointer(self.siov[i])
            self.smsg[i].hdr.iovlen = 1
        # Plain views of the send buffer and of the iovec lengths (each iovec is two
        # 64-bit words, base and len): a slice store and an item store per datagram
        # instead of a ctypes.memmove call and a ctypes structure per datagram.
        self.sview = memoryview(self.sbuf).cast("B")
        self.slens = memoryview(self.siov).cast("B").cast("Q")

    def send(self, datagrams: list[bytes]) -> int:
        """Send up to BATCH datagrams; return how many left (0.. len); raise OSError."""
        n = min(len(datagrams), BATCH)
        sview, slens = self.sview, self.slens
        for i in range(n):
            data = datagrams[i]
            size = len(data)
            if size > QUERY_SLOT:
                raise ValueError(f"query of {size} octets exceeds {QUERY_SLOT}")
            off = i * QUERY_SLOT
            sview[off : off + size] = data
            slens[2 * i + 1] = size
        sent = self._sendmmsg(self.fd, self.smsg, n, MSG_DONTWAIT)
        if sent < 0:
            err = ctypes.get_errno()
            if err in (errno.EAGAIN, errno.EWOULDBLOCK):
                return 0
            raise OSError(err, f"sendmmsg: {errno.errorcode.get(err, err)}")
        return int(sent)

    def recv(self) -> list[bytes]:
        """Up to BATCH waiting datagrams ([] when none); raise OSError (ICMP errors)."""
        got = self._recvmmsg(self.fd, self.rmsg, BATCH, MSG_DONTWAIT, None)
        if got < 0:
            err = ctypes.get_errno()
            if err in (errno.EAGAIN, errno.EWOULDBLOCK):
                return []
            raise OSError(err, f"recvmmsg: {errno.errorcode.get(err, err)}")
        view, lens, stride, first = self.rview, self.rlens, self.rstride, self.rfirst
        return [
            bytes(view[i * BUFSIZE : i * BUFSIZE + lens[first + i * stride]]) for i in range(got)
        ]
