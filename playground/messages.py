"""The messages between the window and its training process: one small frozen dataclass each.

They cross the pipe pickled with the standard pickler (``trainer.dumps``), so tensors travel by
value; ``slots=True`` keeps each one a few bytes over its payload. The Snapshot the worker sends
is ``playground.session.Snapshot`` itself. See trainer.py for who holds the Session when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .experiment import TrainSpec

__all__ = [
    "Consumed",
    "Drop",
    "Error",
    "Fail",
    "Idle",
    "Keep",
    "Lend",
    "Lent",
    "Pause",
    "Play",
    "Quit",
    "Step",
    "Train",
]


class _Message:
    """Pickles as (class, fields): about a third of the default dataclass pickling's time."""

    __slots__ = ()

    def __reduce__(self) -> tuple:
        return type(self), tuple(getattr(self, name) for name in self.__slots__)


# -- window to worker --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play(_Message):
    """Train ``session`` continuously (the worker holds it until it stops)."""

    session: Any


@dataclass(frozen=True, slots=True)
class Step(_Message):
    """Train ``session`` one epoch, then hand it back."""

    session: Any


@dataclass(frozen=True, slots=True)
class Keep(_Message):
    """Hold on to ``session``'s points (not the session): its Play and Step will come by
    reference. Sent as a session with many points is made, while the window is busy anyway."""

    session: Any


@dataclass(frozen=True, slots=True)
class Pause(_Message):
    """Stop after the current epoch and hand the session back."""


@dataclass(frozen=True, slots=True)
class Drop(_Message):
    """Forget the current session at once (the window has moved on from it)."""


@dataclass(frozen=True, slots=True)
class Train(_Message):
    """Use these training settings from the next epoch on."""

    spec: TrainSpec


@dataclass(frozen=True, slots=True)
class Consumed(_Message):
    """The window has drawn the last Snapshot: the next one may come."""


@dataclass(frozen=True, slots=True)
class Lend(_Message):
    """Send a copy of the session (between two epochs), answered by ``Lent(token, ...)``."""

    token: int


@dataclass(frozen=True, slots=True)
class Quit(_Message):
    """End the worker process."""


@dataclass(frozen=True, slots=True)
class Fail(_Message):
    """Within the worker: a window's message could not be read; say ``text`` and end."""

    text: str


# -- worker to window --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Idle(_Message):
    """The session handed back: why training stopped (None: paused or stepped), and whether
    the loss diverged."""

    session_id: int
    session: Any
    reason: str | None
    diverged: bool


@dataclass(frozen=True, slots=True)
class Lent(_Message):
    """The copy asked for with ``Lend(token)`` (None if the worker holds no session)."""

    token: int
    session: Any


@dataclass(frozen=True, slots=True)
class Error(_Message):
    """The worker itself failed and ends; the window keeps its own copy of the session."""

    text: str
