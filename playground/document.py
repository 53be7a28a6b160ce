"""The application's state without a window: the experiment, its file, clean/dirty, edits.

A ``Document`` holds the current ``Experiment`` (plain data), the file it came from and the
state it was last saved or opened in. ``Document.change(new)`` is the one rule of what an edit
needs: a new session (the network, the data, the loss or the seed changed: the weights are
reset), the new training settings applied live to the running session, or nothing. Undoable
edits (``Edit``) know how to apply and revert themselves; the window's QUndoStack commands wrap
them. Reading and writing experiment files lives here too; the dialogs stay in the window.
No Qt, no torch: everything here is tested headlessly (tests/test_document.py).
"""

from __future__ import annotations

import enum
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .experiment import (
    INITS,
    LOSSES,
    MAX_FILE_BYTES,
    MAX_INLINE_POINTS,
    OPTIMIZERS,
    REGRESSION,
    REGULARIZATIONS,
    Experiment,
    ExperimentError,
    SavedWeights,
    TrainSpec,
    dump_experiment,
    load_experiment,
)
from .files import FileReadError, read_bytes, read_text, write_bytes, write_text
from .pointfile import MAX_FILE_BYTES as POINTS_MAX_BYTES
from .pointfile import PointsFileError, points_to_csv, read_points_bytes
from .pointset import PointSet

__all__ = [
    "MAX_RECENT",
    "Action",
    "Change",
    "Document",
    "Edit",
    "ExperimentFileError",
    "classify",
    "points_key",
    "points_path",
    "problem_text",
    "read_experiment",
    "recent_with",
    "recent_without",
]

MAX_RECENT = 8
"""How many recent experiments the File menu keeps."""


class Action(enum.Enum):
    """What a change of the experiment asks of the running session."""

    NOTHING = "nothing"
    APPLY_TRAINING = "apply-training-live"
    REBUILD = "rebuild-session"


@dataclass(frozen=True)
class Change:
    """The outcome of a change: what to do, and the status-bar sentence that says so."""

    action: Action
    message: str = ""

    @property
    def rebuild(self) -> bool:
        """Whether a new session (fresh weights) is needed."""
        return self.action is Action.REBUILD


def classify(old: Experiment, new: Experiment, *, built: bool = True) -> Change:
    """The rule: which change of the experiment needs a new session, which applies live.

    ``built`` says whether a session of ``old`` is running; without one every change of the
    settings builds one (which shows why it cannot train, if it cannot).
    """
    if new.network != old.network:
        return Change(Action.REBUILD, "Network changed: the weights were reset.")
    if new.data != old.data:
        a, b = old.data, new.data
        if (a.features, a.standardize) != (b.features, b.standardize):
            return Change(Action.REBUILD, "Input features changed: the weights were reset.")
        return Change(Action.REBUILD, "Data changed: new points, the weights were reset.")
    a, b = old.train, new.train
    if a == b:
        return Change(Action.NOTHING)
    if b.loss != a.loss:
        title = LOSSES.get(b.loss, b.loss).lower()
        return Change(Action.REBUILD, f"Loss changed to {title}: the weights were reset.")
    if b.seed != a.seed:
        return Change(Action.REBUILD, f"Reset: new random weights (seed {b.seed}).")
    if b.init != a.init:
        title = INITS.get(b.init, b.init)
        return Change(Action.REBUILD, f"Initial weights: {title}; the weights were reset.")
    if not built or new.problems():
        return Change(Action.REBUILD, "Settings changed.")
    return Change(Action.APPLY_TRAINING, _training_message(a, b))


def _training_message(old: TrainSpec, new: TrainSpec) -> str:
    """What a live change of the training settings now does, as one sentence."""
    changes = []
    if new.learning_rate != old.learning_rate:
        changes.append(f"learning rate {new.learning_rate:g}")
    if new.batch_size != old.batch_size:
        changes.append(f"batch size {new.batch_size}")
    if (new.regularization, new.weight_decay) != (old.regularization, old.weight_decay):
        kind = REGULARIZATIONS.get(new.regularization, new.regularization)
        changes.append(
            "no regularisation"
            if new.regularization == "none"
            else f"{kind} regularisation at rate {new.weight_decay:g}"
        )
    if new.optimizer != old.optimizer:
        changes.append(f"optimizer {OPTIMIZERS.get(new.optimizer, new.optimizer)} (fresh state)")
    stops = []
    if new.max_epochs is not None:
        stops.append(f"after {new.max_epochs:,} epochs")
    if new.target_test_loss is not None:
        stops.append(f"at test loss ≤ {new.target_test_loss:g}")
    if new.target_test_metric is not None:
        stops.append(f"at test accuracy or R² ≥ {new.target_test_metric:g}")
    if new.patience is not None:
        stops.append(f"after {new.patience} epochs without a better test loss")
    if (new.max_epochs, new.target_test_loss, new.target_test_metric, new.patience) != (
        old.max_epochs,
        old.target_test_loss,
        old.target_test_metric,
        old.patience,
    ):
        changes.append("stopping " + (", or ".join(stops) if stops else "only when paused"))
    return "Now training with " + ", ".join(changes) + "."


def points_key(experiment: Experiment) -> tuple:
    """What decides the points themselves (features and scaling do not move them)."""
    d = experiment.data
    return (
        d.dataset,
        d.points,
        d.test_fraction,
        d.noise,
        d.seed,
        d.added,
        d.removed,
        d.domain,
        d.classes,
        d.regression,
    )


@dataclass(frozen=True)
class Edit:
    """One undoable edit of one part of the experiment ("network", "data" or "train"), or of
    all of it ("experiment": an imported model brings its network and its features).

    ``text`` is the undo text ("Add class-1 point"), ``done`` the sentence shown when it is
    applied; reverting says "Undone: ...". A part's edit is applied to the document's current
    experiment, so edits of other parts made in between are kept.
    """

    part: str
    old: Any
    new: Any
    text: str
    done: str

    def apply(self, document: Document) -> Change:
        """Make the edit; the Change it asks for, with ``done`` as its message."""
        change = document.change(self._with(document, self.new))
        return replace(change, message=self.done)

    def revert(self, document: Document) -> Change:
        """Undo the edit; the Change it asks for."""
        change = document.change(self._with(document, self.old))
        return replace(change, message=f"Undone: {self.text.lower()}; the weights were reset.")

    def _with(self, document: Document, value: Any) -> Experiment:
        if self.part == "experiment":
            return value
        return document.experiment.replace(**{self.part: value})


class Document:
    """The experiment being worked on, the file it belongs to, and whether it changed since.

    ``built`` is whether a session of the current experiment runs (the window sets it); it
    decides whether new training settings can apply live.
    """

    def __init__(
        self, experiment: Experiment | None = None, path: str | os.PathLike | None = None
    ) -> None:
        self.experiment = experiment or Experiment()
        self.path: Path | None = Path(path) if path is not None else None
        self.built = False
        self.weight_edits = 0
        """Net count of weights typed in since this session's weights were made (undo counts
        down): with the epoch, it says whether the weights a file would carry changed."""
        self._clean = (self.experiment, 0, 0)
        self._beside: tuple[tuple[Path, int], str] | None = None  # the points file last written

    # -- changes ------------------------------------------------------------------------------

    def change(self, new: Experiment) -> Change:
        """Make ``new`` the experiment; what that asks of the session (see ``classify``)."""
        change = classify(self.experiment, new, built=self.built)
        self.experiment = new
        return change

    def edit(self, part: str, new: Any, text: str, done: str) -> Edit | None:
        """An undoable edit of ``part`` of the experiment to ``new`` (None if nothing changes).
        Nothing is changed until it is applied."""
        old = self.experiment if part == "experiment" else getattr(self.experiment, part)
        return None if new == old else Edit(part, old, new, text, done)

    # -- clean or modified ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The file's name, or "Untitled"."""
        return self.path.name if self.path is not None else "Untitled"

    def is_modified(self, trained_epoch: int = 0, *, with_weights: bool = False) -> bool:
        """Whether the setup (or, when files carry the weights, the training: the epoch and
        any weight typed in) changed since the experiment was opened or saved."""
        experiment, epoch, weight_edits = self._clean
        if self.experiment != experiment:
            return True
        return with_weights and (trained_epoch, self.weight_edits) != (epoch, weight_edits)

    def mark_clean(self, trained_epoch: int = 0) -> None:
        """The experiment as it is now (trained to ``trained_epoch``) is what its file holds."""
        self._clean = (self.experiment, trained_epoch, self.weight_edits)

    def new_weights(self) -> None:
        """A new session made fresh (or loaded) weights: no typed-in weight edits are in them
        (so if the file's weights had some, these weights differ from the file's)."""
        self.weight_edits = 0
        experiment, epoch, edits = self._clean
        self._clean = (experiment, epoch, 0 if edits == 0 else -1)

    # -- files --------------------------------------------------------------------------------

    def save(
        self, path: str | os.PathLike, weights: SavedWeights | None = None, trained_epoch: int = 0
    ) -> None:
        """Write the experiment (and ``weights``) as JSON, atomically; it is then clean.
        More than MAX_INLINE_POINTS of your points go to ``points_path(path)`` first, named
        in the JSON with their checksum (rewritten only when they changed). Raises OSError."""
        points_file = None
        added = self.experiment.data.added
        if len(added) > MAX_INLINE_POINTS:
            beside = points_path(path)
            key = (beside, hash(added))
            if self._beside is None or self._beside[0] != key or not beside.exists():
                rows = PointSet.of(added, regression=self.experiment.task == REGRESSION)
                data = points_to_csv(rows.rows(), regression=rows.regression).encode("utf-8")
                write_bytes(beside, data)
                self._beside = (key, hashlib.sha256(data).hexdigest())
            points_file = {"file": beside.name, "sha256": self._beside[1], "points": len(added)}
        write_text(path, dump_experiment(self.experiment, weights, points_file))
        self.path = Path(path)
        self.mark_clean(trained_epoch)


class ExperimentFileError(FileReadError, ExperimentError):
    """An experiment file that cannot be opened, whatever the reason (missing, a pipe, too big,
    not UTF-8, not JSON, a bad setting): ``path``, ``problem``; ``str()`` is "path: problem"."""


def read_experiment(path: str | os.PathLike) -> tuple[Experiment, SavedWeights | None]:
    """An experiment file's experiment and weights (if it has them).

    Only a regular file of at most MAX_FILE_BYTES is read, and the points file beside it if
    it names one (a plain name in its folder, read as any points file, its sha256 checked).
    Raises ExperimentFileError naming the file and the problem; nothing is returned unless
    everything checks out.
    """
    text = read_text(path, MAX_FILE_BYTES, ExperimentFileError)
    try:
        return load_experiment(text, lambda reference: _read_beside(path, reference))
    except ExperimentError as e:
        raise ExperimentFileError(path, str(e)) from None


def points_path(path: str | os.PathLike) -> Path:
    """Where an experiment file keeps its many points: ``name.json`` -> ``name.points.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.points.csv")


def _read_beside(path: str | os.PathLike, reference: dict[str, Any]) -> PointSet:
    """The points file an experiment names: in its own folder, unchanged since it was saved."""
    name = reference["file"]
    if Path(name).name != name or name in ("", ".", "..") or not name.endswith(".csv"):
        raise ExperimentError(f"its points file {name!r} must be a .csv file beside it")
    beside = Path(path).parent / name
    try:
        data = read_bytes(beside, POINTS_MAX_BYTES, PointsFileError)
        if hashlib.sha256(data).hexdigest() != reference["sha256"]:
            raise ExperimentError(
                f"its points file {name} changed since the experiment was saved (its sha256 "
                "differs), so these are not the points it was trained on: put the saved file "
                "back, or import the new file as points (File > Import Points)"
            )
        return read_points_bytes(data, beside)
    except PointsFileError as e:
        if e.problem == "no such file":
            raise ExperimentError(
                f"its points file {name} is missing: it is kept beside the experiment, in "
                f"{Path(path).parent}"
            ) from None
        raise ExperimentError(f"its points file {e}") from None


def problem_text(error: BaseException) -> str:
    """A user's sentence for a file error: the OS's reason, or the reader's problem."""
    if isinstance(error, FileReadError):
        return error.problem
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


def recent_with(paths: list[str], path: str | os.PathLike) -> list[str]:
    """The recent files with ``path`` first (once), at most MAX_RECENT."""
    full = str(Path(path).resolve())
    return [full, *(p for p in paths if p != full)][:MAX_RECENT]


def recent_without(paths: list[str], path: str | os.PathLike) -> list[str]:
    """The recent files without ``path``."""
    full = str(Path(path).resolve())
    return [p for p in paths if p != full]
