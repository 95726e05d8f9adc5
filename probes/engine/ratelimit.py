"""Per-endpoint token buckets (queries per second with a burst). No I/O.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second, so in
any window of T seconds an endpoint receives at most ``burst + rate * T`` queries.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def try_take(self, n: int = 1) -> float:
        """Take ``n`` tokens and return 0, or return the seconds until ``n`` are there."""
        now = time.monotonic()
        tokens = self.tokens + (now - self.stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.stamp = now
        if tokens >= n:
            self.tokens = tokens - n
            return 0.0
        self.tokens = tokens
        return (n - tokens) / self.rate

    async def take(self, n: int = 1) -> None:
        """Wait until ``n`` (<= burst) tokens are available and take them."""
        if n > self.burst:
            raise ValueError(f"cannot take {n} tokens at once from a bucket of {self.burst}")
        while (wait := self.try_take(n)) > 0:
            await asyncio.sleep(wait)
