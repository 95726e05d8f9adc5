"""Hostile DNS servers for tests: each misbehaves in one way, over UDP and TCP. Does I/O.

``HostileServer(mode).start()`` binds 127.66.200.x on a free port in a thread of its own;
``stop()`` closes its sockets and joins the thread. Modes: garbage, short, wrong_id,
mismatch, truncated, oversized, duplicate, late, silent, drip (TCP: one octet every 0.2 s),
cut (TCP: announces more than it sends, then closes), whoami (answers TXT with the
client's address), lossy (UDP: drops the first datagram of every question, answers its
retransmission).
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import threading

import dns.flags
import dns.message
import dns.rrset

ADDRESS = "127.66.200.1"


def _answer(query: bytes, *, value: str = "127.99.0.1", qname: str | None = None) -> bytes:
    q = dns.message.from_wire(query)
    r = dns.message.make_response(q)
    name = qname or q.question[0].name.to_text()
    if qname is not None:
        r.question = [dns.rrset.RRset(dns.name.from_text(qname), 1, 1)]
    r.answer.append(dns.rrset.from_text(name, 60, "IN", "A", value))
    return r.to_wire()


def _oversized(query: bytes) -> bytes:
    q = dns.message.from_wire(query)
    r = dns.message.make_response(q)
    name = q.question[0].name
    r.answer.append(
        dns.rrset.from_text_list(
            name, 60, "IN", "A", [f"127.99.{i // 250}.{i % 250}" for i in range(200)]
        )
    )
    return r.to_wire(max_size=65535)


class HostileServer:
    def __init__(
        self, mode: str, *, address: str = ADDRESS, delay: float = 1.0, port: int = 0
    ) -> None:
        self.mode = mode
        self.address = address
        self.delay = delay
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Thousands of queries can arrive at once (the ID test): do not drop them here.
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.udp.bind((address, port))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((address, self.port))
        self.tcp.listen(16)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"hostile-{mode}", daemon=True)
        self._timers: list[threading.Timer] = []
        self.queries = 0
        self._questions_seen: set[tuple[str, int]] = set()
        self._stopping = threading.Event()

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=10)
        for t in self._timers:
            t.cancel()
        self.udp.close()
        self.tcp.close()
        os.close(self._stop_r)
        os.close(self._stop_w)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"udp://{self.address}:{self.port}"

    @property
    def tcp_url(self) -> str:
        return f"tcp://{self.address}:{self.port}"

    # ------------------------------------------------------------------ UDP
    def _udp_reply(self, query: bytes, peer: tuple[str, int]) -> None:
        self.queries += 1
        send = self.udp.sendto
        mode = self.mode
        if mode == "garbage":
            send(query[:2] + os.urandom(40), peer)  # right ID, random body
        elif mode == "short":
            send(b"\x12\x34\x81", peer)
        elif mode == "wrong_id":
            good = _answer(query)
            send(struct.pack("!H", (good[0] << 8 | good[1]) ^ 0x5A5A) + good[2:], peer)
        elif mode == "mismatch":
            send(_answer(query, qname="other.example."), peer)
        elif mode == "truncated":
            send(_answer(query)[:-3], peer)
        elif mode == "oversized":
            send(_oversized(query), peer)
        elif mode == "duplicate":
            send(_answer(query), peer)
            send(_answer(query, value="127.99.9.9"), peer)
        elif mode == "late":
            timer = threading.Timer(self.delay, lambda: send(_answer(query), peer))
            self._timers.append(timer)
            timer.start()
        elif mode == "whoami":
            q = dns.message.from_wire(query)
            r = dns.message.make_response(q)
            r.answer.append(dns.rrset.from_text(q.question[0].name, 0, "IN", "TXT", f'"{peer[0]}"'))
            send(r.to_wire(), peer)
        elif mode == "upward":
            # A referral back up to the root: what a broken or hostile server may send.
            q = dns.message.from_wire(query)
            r = dns.message.make_response(q)
            r.flags &= ~dns.flags.AA
            r.authority.append(dns.rrset.from_text(".", 60, "IN", "NS", "a.root.hostile."))
            r.additional.append(dns.rrset.from_text("a.root.hostile.", 60, "IN", "A", self.address))
            send(r.to_wire(), peer)
        elif mode == "lossy":
            question = dns.message.from_wire(query).question[0]
            key = (question.name.to_text(), question.rdtype)
            if key in self._questions_seen:
                send(_answer(query), peer)
            self._questions_seen.add(key)
        elif mode in ("silent", "drip", "cut"):
            pass
        else:
            send(_answer(query), peer)

    # ------------------------------------------------------------------ TCP
    def _tcp_serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        if self.mode == "reset":
            # SO_LINGER with a zero timeout: close() sends a RST instead of a FIN, as a
            # middlebox injecting resets (or an overloaded server) does.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.recv(2)
            conn.close()
            return
        try:
            length = struct.unpack("!H", conn.recv(2))[0]
            query = b""
            while len(query) < length:
                chunk = conn.recv(length - len(query))
                if not chunk:
                    return
                query += chunk
            answer = _answer(query)
            framed = struct.pack("!H", len(answer)) + answer
            if self.mode == "drip":
                for i in range(len(framed)):
                    conn.sendall(framed[i : i + 1])
                    if self._stopping.wait(0.2):
                        return
            elif self.mode == "cut":
                conn.sendall(struct.pack("!H", len(answer) + 100) + answer)
            elif self.mode == "garbage":
                conn.sendall(struct.pack("!H", 40) + query[:2] + os.urandom(38))
            elif self.mode == "mismatch":
                wrong = _answer(query, qname="other.example.")
                conn.sendall(struct.pack("!H", len(wrong)) + wrong)
            elif self.mode == "silent":
                self._stopping.wait(3)
            else:
                conn.sendall(framed)
        except OSError:
            pass
        finally:
            conn.close()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "tcp")
        sel.register(self._stop_r, selectors.EVENT_READ, "stop")
        workers: list[threading.Thread] = []
        try:
            while True:
                for key, _ in sel.select():
                    if key.data == "stop":
                        return
                    if key.data == "udp":
                        query, peer = self.udp.recvfrom(65535)
                        self._udp_reply(query, peer)
                    else:
                        conn, _ = self.tcp.accept()
                        t = threading.Thread(target=self._tcp_serve, args=(conn,), daemon=True)
                        t.start()
                        workers.append(t)
        finally:
            sel.close()
            for t in workers:
                t.join(timeout=6)
