"""Training in a process of its own: the loop that drives a Session, and the process's entry point.

No Qt here: the worker process never loads it. The window's ``TrainingController`` (worker.py)
starts one worker process and talks to it over a pipe. Why a process: a thread of the window's
process would share its GIL, and Qt paints the plots while holding it, so live plots slowed
training by a third; a process trains on a core of its own at headless speed.

Whoever trains holds the Session. The window holds it while paused (and may read or change it);
``Play`` and ``Step`` hand it to the worker with the command; the worker hands it back
(``Idle``, with the reason) whenever it stops (paused, a stop condition, one epoch stepped).
While it trains, the window can ask for a copy (``Lend``) for exports. The messages are the
dataclasses of playground/messages.py (plus ``Snapshot``), pickled with the standard pickler,
so tensors travel by value, never as memory shared between the processes.

Window to worker: ``Play(session)``, ``Step(session)``, ``Keep(session)``, ``Pause()``, ``Drop()``,
``Train(spec)``, ``Consumed()``, ``Lend(token)``, ``Quit()``.
Worker to window: ``Snapshot``, ``Idle(session_id, session, reason, diverged)``,
``Lent(token, session)``, and ``Error(text)`` just before it ends because something went wrong
in the worker itself (the window then keeps its own copy of the session).
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .messages import (
    Consumed,
    Drop,
    Error,
    Fail,
    Idle,
    Keep,
    Lend,
    Lent,
    Pause,
    Play,
    Quit,
    Step,
    Train,
)

__all__ = ["SNAPSHOT_RATE", "WORKER_NICENESS", "Trainer", "dumps", "loads", "serve"]

SNAPSHOT_RATE = 30.0
"""Snapshots per second at most while training at full speed."""

CHUNK_SECONDS = 0.01
"""While playing, epochs shorter than this are trained several per call (see _train_epoch)."""

MAX_CHUNK = 100

WORKER_NICENESS = 10
"""How much lower than the window's the worker process's scheduling priority is (Unix ``nice``).

On two busy cores a worker at the window's priority takes the window's core for whole time
slices: the GUI thread, which needs a few milliseconds per snapshot, was kept waiting up to
130 ms (Compare's 16 variants with the main window training too). At a lower priority the
scheduler runs the window as soon as it has an event; training still gets every idle cycle.
"""


def dumps(message: Any, *, by_reference: bool = False) -> bytes:
    """A message as bytes for the pipe (tensors by value, with the standard pickler).

    ``by_reference``: a Session in it leaves its points out (session.points_by_reference),
    for a receiver that holds that session's points already: a million points cost ~50 MB
    and ~0.2 s to pickle and unpickle, and they never change during a session.
    """
    if not by_reference:
        return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    from .session import points_by_reference

    with points_by_reference():
        return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


loads = pickle.loads


class Trainer:
    """The worker process's loop: trains the Session it is handed, reports throttled Snapshots.

    ``command(message)`` may be called from any thread (the process's pipe reader); ``run()``
    handles the commands between epochs, on its own thread, and is the only one that calls
    ``send``. While playing it trains epoch after epoch and sends a Snapshot at most
    ``max_rate`` times a second, and only once the window has drawn the previous one
    (``consumed``), so snapshots never pile up in the window's event queue.
    """

    def __init__(self, send: Callable[[Any], None], max_rate: float = SNAPSHOT_RATE) -> None:
        self._send = send
        self._interval = 1.0 / max_rate
        self._commands: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # set for Drop and Quit: ends the current epoch after its batch (closing never waits)
        self._interrupt = threading.Event()
        self._session: Any = None
        self._points: Any = None  # the last session's points, kept for hand-overs by reference
        self._playing = False
        self._step_pending = False
        self._consumed = True
        self._sent_rows = 0
        self._sent_epoch = 0
        self._last_emit = 0.0
        self._recent: deque[tuple[float, int]] = deque(maxlen=64)
        self._epoch_seconds = 0.0  # the last chunk's time per epoch

    def command(self, message: Any) -> None:
        """Queue a message from the window; Drop and Quit also cut the running epoch short."""
        if isinstance(message, Drop | Quit):
            self._interrupt.set()
        self._commands.put(message)

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        """Handle commands and train until Quit (or the window is gone)."""
        import torch

        from .session import StopWhenSet

        torch.set_num_threads(1)  # tiny matrices: threads only fight the window for the cores
        self._stop_check = StopWhenSet(self._interrupt)
        while True:
            busy = self._session is not None and (self._playing or self._step_pending)
            try:
                message = self._commands.get(block=not busy)
            except queue.Empty:
                self._train_epoch()
                continue
            if not self._handle(message):
                return

    def _handle(self, message: Any) -> bool:
        """Act on one command; False for Quit (and Fail)."""
        match message:
            case Play(session) | Step(session):
                self._take(session)
                self._playing = isinstance(message, Play)
                self._step_pending = isinstance(message, Step)
            case Keep(session):
                self._points = session.data_token
            case Pause():
                self._playing = False
                if self._session is not None and not self._step_pending:
                    self._give_back(None)
            case Drop():
                self._interrupt.clear()
                self._session, self._playing, self._step_pending = None, False, False
                self._points = None
            case Train(spec) if self._session is not None:
                try:
                    self._session.apply_training(spec)
                except ValueError as e:  # the window checks settings first; never lose the run
                    self._playing = self._step_pending = False
                    self._give_back(f"the new settings could not be used: {e}")
            case Consumed():
                self._consumed = True
            case Lend(token):
                self._send(Lent(token, self._session))  # pickled: a copy
            case Quit():
                return False
            case Fail(text):
                self._send(Error(text))
                return False
        return True

    def _take(self, session: Any) -> None:
        self._session = session
        self._points = session.data_token  # the window sends this session by reference now
        self._sent_rows = len(session.history.epoch)  # the window has drawn these already
        self._sent_epoch = session.epoch
        self._recent.clear()
        self._epoch_seconds = 0.0
        self._consumed = True

    def _train_epoch(self) -> None:
        """Train one epoch, or while playing as many as fit in ~``CHUNK_SECONDS``.

        Short epochs are trained a few per ``Session.step`` call, so its per-call work (keeping
        the last good weights, fit's set-up) does not cost more than the training; commands
        still wait at most a chunk, and every epoch still reaches the window's history.
        """
        session = self._session
        epochs = 1
        if self._playing and self._epoch_seconds > 0:
            epochs = max(1, min(MAX_CHUNK, int(CHUNK_SECONDS / self._epoch_seconds)))
        start = time.perf_counter()
        before = session.epoch
        try:
            reason = session.step(epochs, callbacks=[self._stop_check])
        except Exception as e:  # an engine error ends this run, never the process
            reason = f"training stopped: {_text(e)}"
        if self._interrupt.is_set():
            return  # a Drop or Quit is waiting in the queue
        now = time.perf_counter()
        if session.epoch > before:
            self._epoch_seconds = (now - start) / (session.epoch - before)
        self._recent.append((now, session.steps))
        if self._step_pending or reason is not None:
            self._step_pending = self._playing = False
            self._give_back(reason)
        elif now - self._last_emit >= self._interval and self._consumed:
            self._emit()

    def _steps_per_second(self) -> float:
        if len(self._recent) < 2:
            return math.nan
        (t0, s0), (t1, s1) = self._recent[0], self._recent[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else math.nan

    def _emit(self) -> None:
        # the weights rather than the grid: the window draws it on its own core
        snap = self._session.snapshot(
            since=self._sent_rows,
            grid=False,
            weights=True,
            steps_per_second=self._steps_per_second(),
        )
        self._sent_rows += len(snap.history)
        self._sent_epoch = snap.epoch
        self._consumed = False
        self._last_emit = time.perf_counter()
        self._send(snap)

    def _give_back(self, reason: str | None) -> None:
        """Show where training stopped, then hand the session back to the window."""
        session = self._session
        if session.epoch != self._sent_epoch or reason is not None:
            self._emit()
        diverged = session.divergence is not None
        self._session = None
        self._send(Idle(session.session_id, session, reason, diverged))


def serve(conn: Any) -> None:
    """The worker process's entry point: a Trainer fed by a thread reading ``conn``.

    Ends on Quit or when the window's end of the pipe closes (the window exited or died).
    """

    def send(message: Any) -> None:
        try:
            # the window has the points of every session it handed over
            conn.send_bytes(dumps(message, by_reference=isinstance(message, Idle | Lent)))
        except OSError:  # the window closed its end: nobody to train for
            trainer.command(Quit())

    _lower_priority()
    trainer = Trainer(send)

    def read() -> None:
        try:
            while True:
                trainer.command(loads(conn.recv_bytes()))
        except (EOFError, OSError):
            trainer.command(Quit())
        except Exception as e:  # a message that does not unpickle here: the protocol is broken
            trainer.command(Fail(f"it could not read the window's message ({_text(e)})"))

    threading.Thread(target=read, name="commands", daemon=True).start()
    try:
        trainer.run()
    except Exception as e:  # say why to the window, which then keeps its copy of the session
        with contextlib.suppress(Exception):
            conn.send_bytes(dumps(Error(_text(e))))
    finally:
        conn.close()


def _lower_priority() -> None:
    """Run this process WORKER_NICENESS below the window (where the platform has ``nice``)."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
