"""Service times in fixed buckets: bounded memory however many requests, percentiles to 3 digits.

A bucket holds the times that agree in their first three significant digits (exact below
1,000 ms, 10 ms wide up to 10 s, 100 ms wide up to 100 s, ...), so a percentile read from
the buckets is the true nearest-rank value cut to three digits: within 1%, and exact at the
round thresholds (2,000 ms) the check compares with. Times are whole milliseconds (the
router's own unit) below 10^9 ms, so at most a few thousand buckets can ever exist.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field


def bucket_of(ms: int) -> int:
    """The bucket's lower edge: `ms` cut to three significant digits."""
    if ms < 1000:
        return max(0, ms)
    step: int = 10 ** (len(str(ms)) - 3)
    return ms - ms % step


@dataclass
class LatencyHistogram:
    """Counts per bucket; `count` requests with a service time."""

    buckets: Counter[int] = field(default_factory=Counter)
    count: int = 0

    def add(self, ms: int, times: int = 1) -> None:
        edge = ms if 0 <= ms < 1000 else bucket_of(ms)  # the common case, without a call
        self.buckets[edge] = self.buckets.get(edge, 0) + times
        self.count += times

    def merge(self, other: LatencyHistogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count

    def percentile(self, q: float) -> int | None:
        """Nearest-rank percentile (`q` in 0..1), as its bucket's lower edge; None when empty."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for edge in sorted(self.buckets):
            seen += self.buckets[edge]
            if seen >= rank:
                return edge
        return max(self.buckets)  # unreachable: the counts add up to `count`

    @classmethod
    def merged(cls, parts: Iterable[LatencyHistogram]) -> LatencyHistogram:
        total = cls()
        for part in parts:
            total.merge(part)
        return total
