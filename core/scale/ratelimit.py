"""A thread-safe token bucket: the client-side pace for task creations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Allow ``rate`` acquisitions per second on average, bursting up to ``burst``.

    ``rate <= 0`` turns the limit off. Threads that call :meth:`acquire` together are
    served one token each; waiting happens outside the lock.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether a limit applies at all."""
        return self.rate > 0

    def acquire(self) -> float:
        """Take one token, sleeping until one is available.

        Returns:
            The seconds this call waited.
        """
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0  # may go negative: later callers queue behind this one
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, burst={self.burst})"
