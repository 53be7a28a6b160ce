"""Training off the GUI thread: a worker driving a Session, and a controller owning its thread.

``TrainingWorker`` lives on a QThread. It trains epoch after epoch while playing, and emits a
``Snapshot`` (copied numbers and arrays) at most ``max_rate`` times a second however fast the
epochs go: the decision grid is predicted only when a snapshot is due. Play, pause, step and
stop are ``threading.Event`` flags the GUI thread sets; the worker never touches a widget.

``TrainingController`` is the GUI thread's handle: it starts the thread for a session, forwards
the worker's signals, and on ``shutdown()`` stops the loop and joins the thread, so closing the
window mid-training never leaves a running QThread behind.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from .experiment import TrainSpec

__all__ = ["TrainingController", "TrainingWorker"]

SNAPSHOT_RATE = 30.0
"""Snapshots per second at most while training at full speed."""


class TrainingWorker(QObject):
    """Runs a Session's epochs on its own thread and reports throttled Snapshots.

    Signals: ``snapshot(Snapshot)``; ``stopped(session_id, reason, diverged)`` when training
    pauses by itself (a stop condition met, the loss diverged, an error); ``finished()`` when the
    loop ends.
    """

    snapshot = Signal(object)
    stopped = Signal(int, str, bool)
    finished = Signal()

    def __init__(self, session: Any, max_rate: float = SNAPSHOT_RATE) -> None:
        super().__init__()
        self._session = session
        self._interval = 1.0 / max_rate
        self._stop = threading.Event()
        self._running = threading.Event()
        self._step_requested = threading.Event()
        self._wake = threading.Event()
        self._idle = threading.Event()  # set while the loop waits for work
        # set by the GUI once it has drawn the last snapshot: while training flat out, a new
        # one is sent only then, so snapshots never pile up in the GUI thread's event queue
        self.consumed = threading.Event()
        self.consumed.set()
        # guards the session: the worker holds it for each epoch, the GUI thread for exports
        self.lock = threading.Lock()
        self._pending_train: TrainSpec | None = None
        self._pending_lock = threading.Lock()
        # the window draws a session's first snapshot itself; the worker sends what follows
        self._sent_rows = len(session.history.epoch)
        self._sent_epoch = session.epoch
        self._recent: deque[tuple[float, int]] = deque(maxlen=64)

    # -- called from the GUI thread -----------------------------------------------------------

    @property
    def is_playing(self) -> bool:
        """Whether the loop trains continuously (until paused or stopped)."""
        return self._running.is_set()

    @property
    def is_idle(self) -> bool:
        """Whether the loop is waiting for work (paused, every snapshot sent)."""
        return self._idle.is_set()

    def play(self) -> None:
        """Train continuously."""
        self._running.set()
        self._wake.set()

    def pause(self) -> None:
        """Stop after the current epoch; a final snapshot shows where it stopped."""
        self._running.clear()
        self._wake.set()

    def step(self) -> None:
        """Train exactly one epoch (when paused)."""
        self._step_requested.set()
        self._wake.set()

    def stop(self) -> None:
        """End the loop after the current epoch; the thread can then be joined."""
        self._stop.set()
        self._running.clear()
        self._wake.set()

    def apply_training(self, spec: TrainSpec) -> None:
        """Use these training settings (learning rate, batch size...) from the next epoch on."""
        with self._pending_lock:
            self._pending_train = spec
        self._wake.set()

    # -- the loop, on the worker thread ------------------------------------------------------

    @Slot()
    def run(self) -> None:
        """Train while playing, one epoch per step request, until stopped."""
        import torch

        from .session import StopWhenSet

        torch.set_num_threads(1)  # tiny matrices: threads only fight the GUI for the cores
        self._stop_check = StopWhenSet(self._stop)
        last_emit = 0.0
        while not self._stop.is_set():
            self._apply_pending()
            if self._running.is_set():
                single = False
            elif self._step_requested.is_set():
                self._step_requested.clear()
                single = True
            else:
                if self._session.epoch != self._sent_epoch:
                    self._emit()  # show where a pause landed
                self._idle.set()
                self._wake.wait()
                self._idle.clear()
                self._wake.clear()
                continue
            reason = self._train_epoch()
            now = time.perf_counter()
            if reason is not None:
                self._running.clear()
                self._emit()
                diverged = self._session.divergence is not None
                self.stopped.emit(self._session.session_id, reason, diverged)
                last_emit = now
            elif single or (now - last_emit >= self._interval and self.consumed.is_set()):
                self._emit()
                last_emit = now
        self.finished.emit()

    def _apply_pending(self) -> None:
        with self._pending_lock:
            spec, self._pending_train = self._pending_train, None
        if spec is not None:
            with self.lock:
                self._session.apply_training(spec)

    def _train_epoch(self) -> str | None:
        session = self._session
        try:
            with self.lock:
                reason = session.step(callbacks=[self._stop_check])
        except Exception as e:  # never let an engine error kill the thread silently
            return f"training stopped: {type(e).__name__}: {e}"
        self._recent.append((time.perf_counter(), session.steps))
        if self._stop.is_set():
            return None
        return reason

    def _steps_per_second(self) -> float:
        if len(self._recent) < 2:
            return math.nan
        (t0, s0), (t1, s1) = self._recent[0], self._recent[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else math.nan

    def _emit(self) -> None:
        with self.lock:
            snap = self._session.snapshot(
                since=self._sent_rows, steps_per_second=self._steps_per_second()
            )
        self._sent_rows += len(snap.history)
        self._sent_epoch = snap.epoch
        self.consumed.clear()
        self.snapshot.emit(snap)


class TrainingController(QObject):
    """The GUI thread's handle on training: one worker thread per session, joined on shutdown.

    Re-emits the current worker's signals and drops those of a session it has moved on from
    (queued snapshots can arrive after a rebuild). ``stopped(reason)`` fires whenever training
    pauses by itself; ``diverged(reason)`` too when the reason is a diverged loss.
    """

    snapshot = Signal(object)
    stopped = Signal(str)
    diverged = Signal(str)
    playing_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._session: Any = None

    @property
    def session(self) -> Any:
        """The current Session (owned by the worker thread while it runs)."""
        return self._session

    @property
    def is_playing(self) -> bool:
        """Whether training runs continuously right now."""
        return self._worker is not None and self._worker.is_playing

    @property
    def is_idle(self) -> bool:
        """Whether the worker waits for work (paused, its last snapshot sent)."""
        return self._worker is not None and self._worker.is_idle

    def start(self, session: Any) -> None:
        """Hand ``session`` to a new worker thread (stopping the previous one), paused."""
        self.shutdown()
        self._session = session
        worker = TrainingWorker(session)
        thread = QThread(self)
        thread.setObjectName(f"training-{session.session_id}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        thread.finished.connect(worker.deleteLater)
        worker.snapshot.connect(self._on_snapshot)
        worker.stopped.connect(self._on_stopped)
        self._worker, self._thread = worker, thread
        thread.start()

    def play(self) -> None:
        """Train continuously."""
        if self._worker is not None:
            self._worker.play()
            self.playing_changed.emit(True)

    def pause(self) -> None:
        """Pause after the current epoch."""
        if self._worker is not None:
            self._worker.pause()
            self.playing_changed.emit(False)

    def step(self) -> None:
        """Train one epoch."""
        if self._worker is not None:
            self._worker.step()

    def apply_training(self, spec: TrainSpec) -> None:
        """Use new training settings from the next epoch on (keeps the weights)."""
        if self._worker is not None:
            self._worker.apply_training(spec)

    @contextmanager
    def locked_session(self) -> Iterator[Any]:
        """The session, with the worker held between epochs (for exports and checks)."""
        if self._worker is None:
            yield self._session
            return
        with self._worker.lock:
            yield self._session

    def shutdown(self) -> None:
        """Stop the worker and join its thread; safe to call twice."""
        worker, thread = self._worker, self._thread
        self._worker = self._thread = None
        if worker is None or thread is None:
            return
        was_playing = worker.is_playing
        worker.stop()
        thread.quit()
        thread.wait()
        thread.deleteLater()
        if was_playing:
            self.playing_changed.emit(False)

    def forget_session(self) -> None:
        """Drop the session (after ``shutdown``), e.g. while the experiment cannot train."""
        self.shutdown()
        self._session = None

    @Slot(object)
    def _on_snapshot(self, snap: Any) -> None:
        if self._session is not None and snap.session_id == self._session.session_id:
            self.snapshot.emit(snap)
        if self._worker is not None:
            # acknowledged from a zero timer, i.e. after the repaint this snapshot queued and
            # after other timers: the GUI thread keeps time for input, timers and painting
            QTimer.singleShot(0, self._worker.consumed.set)

    @Slot(int, str, bool)
    def _on_stopped(self, session_id: int, reason: str, diverged: bool) -> None:
        if self._session is not None and session_id == self._session.session_id:
            self.playing_changed.emit(False)
            self.stopped.emit(reason)
            if diverged:
                self.diverged.emit(reason)
