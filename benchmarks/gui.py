"""The GUI thread as the app's benchmarks watch it: an event loop to run and a timer whose late
ticks say how long the thread was held. No torch (a window child measures its memory from a
baseline); Qt is imported when these run.
"""

from __future__ import annotations

TIMER_MS = 10
"""The interval of the timer whose late ticks measure how long the GUI thread was held."""


def run_events(ms: int) -> None:
    """Run the Qt event loop for ``ms`` milliseconds: the GUI thread as in the app (an event
    loop, not a busy loop)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


class TimerLateness:
    """A TIMER_MS timer on the GUI thread, recording when each tick comes; ``stop()`` says how
    late they came: ``late_max_ms``, ``late_p99_ms`` and the number of ``ticks``."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.ticks: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(TIMER_MS)
        self._timer.timeout.connect(lambda: self.ticks.append(self._clock.nsecsElapsed() / 1e6))

    def start(self) -> None:
        """Start ticking (and the clock)."""
        self._clock.start()
        self._timer.start()

    def stop(self) -> dict[str, float]:
        """Stop ticking; the lateness of the ticks so far."""
        self._timer.stop()
        gaps = [b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False)]
        late = sorted(max(0.0, g - TIMER_MS) for g in gaps)
        return {
            "late_max_ms": late[-1] if late else float("nan"),
            "late_p99_ms": late[int(0.99 * (len(late) - 1))] if late else float("nan"),
            "ticks": len(self.ticks),
        }
