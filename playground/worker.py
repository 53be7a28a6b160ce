"""The window's handle on training: a worker process that trains, and the session's hand-over.

``TrainingController`` starts one worker process (``trainer.serve``) the first time something is
to be trained and keeps it for every later session. The Session is held by whoever trains (see
trainer.py): the window while paused, the worker while playing or stepping. ``session`` is the
window's copy: current whenever the window holds it, the state at Play while the worker trains.
``locked_session()`` gives a current one either way, for exports and checks.

The worker's messages arrive on the GUI thread (a QSocketNotifier on the pipe) and leave as the
same Qt signals as ever: ``snapshot``, ``stopped``, ``diverged``, ``playing_changed``.

Processes come from a fork server that has imported torch and minidl once (``forkserver``, where
the platform has it), so a new worker starts in milliseconds and never inherits Qt's threads;
elsewhere they are spawned. As with any multiprocessing program, a script that opens the window
must do so under ``if __name__ == "__main__":`` (main.py does): each worker imports the
script's module again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
import queue
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal, Slot

from .experiment import TrainSpec
from .messages import Consumed, Drop, Error, Idle, Keep, Lend, Lent, Pause, Play, Quit, Step, Train
from .trainer import SNAPSHOT_RATE, dumps, loads, serve

__all__ = [
    "SEND_AHEAD_POINTS",
    "SNAPSHOT_RATE",
    "WAIT_LIMIT",
    "TrainingController",
    "WorkerGoneError",
    "start_method",
]

SEND_AHEAD_POINTS = 20_000
"""A session with more points than this sends them to the worker as it is made (``Keep``),
so that Play hands over the session without them: ~50 MB for a million points would hold the
window ~0.1 s at Play."""

WAIT_LIMIT = 30.0
"""Seconds the window waits for the worker to hand the session back (or lend a copy) before it
gives up on that worker: an epoch longer than this while exporting is the price of never
hanging the window on a worker that stopped answering."""


class WorkerGoneError(RuntimeError):
    """The worker process ended while it held the session."""


def start_method() -> str:
    """How worker processes start here: "forkserver" where available, else "spawn"."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _context() -> Any:
    ctx = multiprocessing.get_context(start_method())
    if start_method() == "forkserver":
        # the server imports these once; each worker forked from it starts with them loaded
        ctx.set_forkserver_preload(
            ["playground.trainer", "playground.session", "playground.compare"]
        )
    return ctx


def warm_up() -> None:
    """Start the fork server now (it loads torch in the background), so Play starts at once."""
    if start_method() == "forkserver":
        _context()
        from multiprocessing import forkserver

        forkserver.ensure_running()


class _PipeWriter:
    """Writes the window's messages to the worker's pipe from a thread of its own, in order.

    A session is bigger than a pipe's buffer (~180 kB for the seed network, ~370 kB for 16
    Compare variants), so writing it blocks until the worker reads; a worker still starting
    (its fork, its imports) read nothing for 160-300 ms, and the window stalled that long at
    Play. The message is pickled on the caller's thread (it is the session as it is now); only
    the write waits here.
    """

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="minidl-pipe-writer", daemon=True)
        self._thread.start()

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the pipe; returns at once."""
        self._queue.put(data)

    def close(self, timeout: float) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            with contextlib.suppress(OSError, ValueError):  # the worker is gone, or the pipe
                self._conn.send_bytes(data)  # closed: the reading side says so


class TrainingController(QObject):
    """The GUI thread's handle on training: one worker process, the session handed back and forth.

    ``stopped(reason)`` fires whenever training pauses by itself (a stop condition, a diverged
    loss, an error, the worker gone); ``diverged(reason)`` too when the loss diverged.
    Snapshots of sessions the window has moved on from are dropped.
    """

    snapshot = Signal(object)
    stopped = Signal(str)
    diverged = Signal(str)
    playing_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session: Any = None
        self._worker_has_it = False  # who holds the session: the worker or the window
        self._playing = False
        self._train_spec: TrainSpec | None = None  # the newest settings asked for
        self._process: Any = None
        self._conn: Any = None
        self._writer: _PipeWriter | None = None
        self._notifier: QSocketNotifier | QTimer | None = None
        self._tokens = itertools.count()
        self._points_sent: tuple[int, int] | None = None  # (worker pid, session id)

    # -- state ----------------------------------------------------------------------------------

    @property
    def session(self) -> Any:
        """The window's copy of the current Session (None while nothing can train)."""
        return self._session

    @property
    def is_playing(self) -> bool:
        """Whether training runs continuously right now."""
        return self._playing

    @property
    def is_idle(self) -> bool:
        """Whether the window holds the session: paused, every epoch back and shown."""
        return self._session is not None and not self._worker_has_it

    @property
    def worker_pid(self) -> int | None:
        """The worker process's id, while it runs."""
        return self._process.pid if self._process is not None else None

    # -- commands -------------------------------------------------------------------------------

    def start(self, session: Any) -> None:
        """Make ``session`` the current one, paused (the worker forgets the previous one)."""
        self._drop()
        self._session = session
        self._train_spec = session.experiment.train
        with contextlib.suppress(OSError, RuntimeError):  # Play says so if it really fails
            warm_up()
            if session.point_count > SEND_AHEAD_POINTS:
                self._ensure_worker()
                self._send(Keep(session))
                self._points_sent = (self._process.pid, session.session_id)

    def prepare(self) -> None:
        """Start the worker process now, so that the first Play hands over at once.

        A new worker reads nothing until it has started (~0.35 s on a busy machine), and a
        session bigger than the pipe's buffer (Compare's 16 networks) held the window that long
        at the first Play. Starting fails silently here: Play says so if it really fails.
        """
        with contextlib.suppress(OSError, RuntimeError):
            warm_up()
            self._ensure_worker()

    def play(self) -> None:
        """Train continuously."""
        if self._session is None or self._playing or not self._hand_over(Play):
            return
        self._playing = True
        self.playing_changed.emit(True)

    def pause(self) -> None:
        """Pause after the current epoch; the session comes back with a last snapshot."""
        if not self._playing:
            return
        self._playing = False
        self._send(Pause())
        self.playing_changed.emit(False)

    def step(self) -> None:
        """Train one epoch (when paused; ignored while a step or a pause is on its way)."""
        if self._session is None or self._playing or self._worker_has_it:
            return
        self._hand_over(Step)

    def apply_training(self, spec: TrainSpec) -> None:
        """Use new training settings from the next epoch on (keeps the weights)."""
        self._train_spec = spec
        if self._session is None:
            return
        if self._worker_has_it:
            self._send(Train(spec))
        else:
            self._session.apply_training(spec)

    @contextmanager
    def locked_session(self) -> Iterator[Any]:
        """The current session: the window's own when it holds it, else a copy from the worker
        taken between two epochs (changes to such a copy are not sent back)."""
        if self._session is None or not self._worker_has_it:
            yield self._session
            return
        if not self._playing:  # a pause or a step is on its way back: wait for it
            self._wait_for_session()
            yield self._session
            return
        token = next(self._tokens)
        self._send(Lend(token))
        yield self._wait_for_session(token)

    def shutdown(self) -> None:
        """Stop training and end the worker process; safe to call twice."""
        self._drop()
        process = self._process
        if process is None:
            return
        self._send(Quit())
        self._close_pipe()
        self._process = None
        process.join(2.0)
        if process.is_alive():  # only if it does not answer: SIGKILL ends even a stopped one
            process.kill()
            process.join()

    def forget_session(self) -> None:
        """Drop the session, e.g. while the experiment cannot train (the worker stays up)."""
        self._drop()
        self._session = None

    # -- the hand-over --------------------------------------------------------------------------

    def _hand_over(self, command: type[Play] | type[Step]) -> bool:
        """Send the session with Play or Step; False (and ``stopped``) if no worker starts."""
        if self._worker_has_it:  # a pause is on its way back
            self._wait_for_session()
        try:
            self._ensure_worker()
        except (OSError, RuntimeError) as e:  # no fork server, no processes left, ...
            self.stopped.emit(f"could not start the training process: {e}")
            return False
        self._worker_has_it = True
        # the points travel once per session and worker process; then by reference
        sent = (self._process.pid, self._session.session_id)
        self._send(command(self._session), by_reference=self._points_sent == sent)
        self._points_sent = sent
        return True

    def _drop(self) -> None:
        """The worker forgets the current session; the window keeps its copy."""
        if self._worker_has_it or self._points_sent is not None:
            self._send(Drop())  # the worker forgets the session, and its points
            self._worker_has_it = False
            self._points_sent = None
        if self._playing:
            self._playing = False
            self.playing_changed.emit(False)

    def _take_back(self, session: Any, reason: str | None, diverged: bool) -> None:
        self._session = session
        self._worker_has_it = False
        if self._train_spec is not None and session.experiment.train != self._train_spec:
            # settings changed while the session was on its way back
            try:
                session.apply_training(self._train_spec)
            except ValueError as e:  # the worker turned them down too: say so, keep the run
                reason = reason or f"the new settings could not be used: {e}"
        was_playing, self._playing = self._playing, False
        if was_playing:
            self.playing_changed.emit(False)
        if reason is not None:
            self.stopped.emit(reason)
            if diverged:
                self.diverged.emit(reason)

    def _wait_for_session(self, token: int | None = None) -> Any:
        """Read the pipe until the worker hands the session back (or lends the copy ``token``).

        Other messages are handled as they come. If the worker dies, the window keeps the
        session it handed over and says so.
        """
        deadline = time.monotonic() + WAIT_LIMIT
        while True:
            try:
                message = self._receive(timeout=0.1)
            except WorkerGoneError as e:
                self._worker_gone(str(e))
                return self._session
            if message is None:
                if time.monotonic() > deadline:  # alive but not answering: never hang here
                    self._worker_gone(
                        f"the training process did not answer for {WAIT_LIMIT:g} s and was "
                        "stopped"
                    )
                    return self._session
                continue
            if isinstance(message, Lent) and message.token == token:
                return message.session
            self._dispatch(message)
            if not self._worker_has_it:
                return self._session

    # -- the pipe -------------------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        self._close_pipe()
        ctx = _context()
        here, there = ctx.Pipe(duplex=True)
        process = ctx.Process(target=serve, args=(there,), name="minidl-training", daemon=True)
        process.start()
        there.close()
        self._process, self._conn = process, here
        self._writer = _PipeWriter(here)
        if sys.platform == "win32":  # pipes are not sockets there: look every 10 ms
            notifier: QSocketNotifier | QTimer = QTimer(self)
            notifier.timeout.connect(self._on_readable)
            notifier.start(10)
        else:
            notifier = QSocketNotifier(here.fileno(), QSocketNotifier.Type.Read, self)
            notifier.activated.connect(self._on_readable)
        self._notifier = notifier

    def _close_pipe(self) -> None:
        if self._notifier is not None:
            if isinstance(self._notifier, QSocketNotifier):
                self._notifier.setEnabled(False)
            else:
                self._notifier.stop()
            self._notifier.deleteLater()
            self._notifier = None
        if self._writer is not None:  # a Quit on its way is written first
            self._writer.close(timeout=1.0)
            self._writer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, message: Any, *, by_reference: bool = False) -> None:
        if self._writer is None:
            return
        self._writer.send(dumps(message, by_reference=by_reference))

    def _receive(self, timeout: float) -> Any:
        """The next message, or None after ``timeout`` seconds; WorkerGoneError if it died."""
        conn, process = self._conn, self._process
        if conn is None:
            raise WorkerGoneError("the training process is not running")
        try:
            if conn.poll(timeout):
                data = conn.recv_bytes()
            elif process is not None and process.is_alive():
                return None
            else:
                raise EOFError
        except (EOFError, OSError):
            code = None
            if process is not None:
                process.join(0.5)  # the pipe closes a moment before the process has exited
                code = process.exitcode
            raise WorkerGoneError(
                f"the training process ended unexpectedly (exit code {code})"
            ) from None
        try:
            return loads(data)
        except Exception as e:  # its message does not unpickle here: the protocol is broken
            raise WorkerGoneError(
                f"a message of the training process could not be read ({type(e).__name__}: {e})"
            ) from None

    @Slot()
    def _on_readable(self) -> None:
        while self._conn is not None:
            try:
                message = self._receive(timeout=0)
            except WorkerGoneError as e:
                self._worker_gone(str(e))
                return
            if message is None:
                return
            self._dispatch(message)

    def _dispatch(self, message: Any) -> None:
        from .compare import CompareSnapshot, SweepSnapshot
        from .session import Snapshot

        current = self._session.session_id if self._session is not None else None
        match message:
            case Snapshot() | CompareSnapshot() | SweepSnapshot():
                snap = message
                if snap.session_id == current and self._worker_has_it:
                    if snap.grid is None and snap.weights is not None:
                        # the decision grid of the snapshot's weights, drawn here on the
                        # window's core rather than on the worker's
                        grid = self._session.decision_grid(snap.weights)
                        snap = dataclasses.replace(snap, grid=grid)  # weights stay: the views
                    self.snapshot.emit(snap)
                # acknowledged from a zero timer, i.e. after the repaint this snapshot queued and
                # after other timers: the GUI thread keeps time for input, timers and painting
                QTimer.singleShot(0, lambda: self._send(Consumed()))
            case Idle(session_id, session, reason, diverged):
                if session_id == current and self._worker_has_it:
                    self._take_back(session, reason, diverged)
            case Error(text):
                self._worker_gone(f"the training process stopped: {text}")
        # a Lent copy nobody waits for any more is dropped

    def _worker_gone(self, why: str) -> None:
        """The worker ended (or must): the window goes on with its own copy of the session,
        shows it as it is (the epochs trained since Play are lost) and says why."""
        process = self._process
        self._close_pipe()
        self._process = None
        if process is not None and process.is_alive():
            process.kill()  # given up on: SIGKILL, which also ends a stopped process
            process.join(1.0)
        if self._worker_has_it:
            session = self._session
            self._worker_has_it = False
            self.snapshot.emit(session.snapshot())  # all of its history: the plots go back too
            reason = f"{why}; the weights are those of epoch {session.epoch}"
            self._take_back(session, reason, False)
