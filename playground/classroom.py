"""The classroom section of an experiment file: what learners see and what they may change.

A teacher saves an experiment "for class" (File > Save for Class…): the file then says, per panel
or per control, whether it is shown (the learner may change it), locked (shown, read-only) or
hidden (not shown; the file's value is used). Opening such a file puts the window in class mode;
the experiment itself trains exactly as the same file without the section.

In the file::

    "classroom": {
      "note": "Find the largest learning rate that still trains smoothly.",
      "controls": {"data": "hide", "network": "lock", "training": "lock",
                   "training.learning_rate": "show", "training.play": "show"}
    }

A name is a panel ("training") or one of its controls ("training.learning_rate"); a control's
own entry wins over its panel's, so "lock the training bar but the learning rate" is two
entries. Names not mentioned are shown. A control that cannot be hidden (typing weights has no
widget of its own) is locked where its panel is hidden; one that cannot be locked (a plot) stays
shown where its panel is locked. Naming such a state for the control itself is an error.

``Classroom.refusal(old, new)`` is the rule the window applies to every change a learner makes
(a widget, a shortcut, a menu, a drop, undo): a change of a setting a locked or hidden control
governs is refused, whichever way it came. Class mode is a teaching aid, not a lock: the file is
plain JSON, and View > Leave Class Mode… (after a confirmation) unlocks everything.

No Qt, no torch (an Experiment is only read through its attributes, so this module does not
import experiment.py, which imports it).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONTROLS",
    "MAX_NOTE",
    "PANELS",
    "Classroom",
    "ClassroomError",
    "Control",
    "Panel",
    "State",
]

MAX_NOTE = 2000
"""The teacher's note is at most this many characters."""


class ClassroomError(ValueError):
    """A classroom section that cannot be used; the message says which name or value and why."""


class State(enum.Enum):
    """What the learner may do with a panel or a control, least restrictive first."""

    SHOW = "show"
    LOCK = "lock"
    HIDE = "hide"

    @property
    def rank(self) -> int:
        """Order of restriction: show 0, lock 1, hide 2."""
        return list(State).index(self)


@dataclass(frozen=True)
class Control:
    """One thing a learner sees or changes, and the experiment settings it governs.

    ``settings`` are dotted paths into an Experiment ("train.learning_rate", "network" for the
    whole stack). ``can_lock`` is False for things that only show (a plot); ``can_hide`` False
    for abilities without a widget of their own (typing weights in the network view).
    """

    name: str
    title: str
    tip: str
    settings: tuple[str, ...] = ()
    can_lock: bool = True
    can_hide: bool = True

    @property
    def panel(self) -> str:
        """The panel's name: "training" for "training.learning_rate"."""
        return self.name.split(".", 1)[0]

    @property
    def states(self) -> tuple[State, ...]:
        """The states this control can be put in."""
        return tuple(
            s
            for s in State
            if (s is not State.LOCK or self.can_lock) and (s is not State.HIDE or self.can_hide)
        )

    def fit(self, state: State) -> State:
        """``state`` (a panel's) made one this control can be in: hide becomes lock where it
        cannot hide, lock becomes show where it cannot lock."""
        if state is State.HIDE and not self.can_hide:
            state = State.LOCK
        if state is State.LOCK and not self.can_lock:
            state = State.SHOW
        return state


@dataclass(frozen=True)
class Panel:
    """A part of the window and its controls."""

    name: str
    title: str
    tip: str
    phrase: str
    """The whole panel in a sentence: "the data panel"."""
    controls: tuple[Control, ...]


def _panel(name: str, title: str, tip: str, phrase: str, *controls: tuple) -> Panel:
    return Panel(
        name, title, tip, phrase, tuple(Control(f"{name}.{c[0]}", *c[1:]) for c in controls)
    )


_VIEW = {"can_lock": False}
PANELS: tuple[Panel, ...] = (
    _panel(
        "training",
        "Training",
        "The training bar on top and the stop conditions",
        "the training settings",
        (
            "play",
            "Playing (Play, Pause, Step)",
            "Train (Space), one epoch (F10), the Training menu",
        ),
        ("reset", "Reset the weights", "New random weights (Ctrl+R)", ("train.seed",)),
        ("learning_rate", "Learning rate", "The step size", ("train.learning_rate",)),
        ("batch_size", "Batch size", "Points per step", ("train.batch_size",)),
        (
            "weight_decay",
            "Regularisation",
            "L1 or L2 and its rate",
            ("train.regularization", "train.weight_decay"),
        ),
        ("init", "Initial weights", "Xavier, PyTorch's default or zeros", ("train.init",)),
        (
            "optimizer",
            "Optimizer",
            "SGD, SGD with momentum, Adam",
            ("train.optimizer", "train.momentum"),
        ),
        ("loss", "Loss", "What training minimises", ("train.loss",)),
        (
            "stop_conditions",
            "Stop conditions",
            "Epoch limit, target test loss or accuracy (R²), patience",
            (
                "train.max_epochs",
                "train.target_test_loss",
                "train.target_test_metric",
                "train.patience",
            ),
        ),
    ),
    _panel(
        "data",
        "Data",
        "The data panel on the left",
        "the data panel",
        ("dataset", "Dataset", "Which dataset", ("data.dataset",)),
        ("classes", "Number of classes", "Classes of spiral, blobs, rings", ("data.classes",)),
        ("points", "Number of points", "Training and test points", ("data.points",)),
        ("split", "Test split", "Share of test points", ("data.test_fraction",)),
        ("noise", "Noise", "Noise of the generated points", ("data.noise",)),
        ("seed", "Data seed, Regenerate", "Which points are drawn", ("data.seed",)),
        ("features", "Input features", "x₁, x₂, x₁², …", ("data.features",)),
        ("standardize", "Standardise inputs", "Scale the features", ("data.standardize",)),
        (
            "your_points",
            "Your points",
            "Clicking on the plot, Import Points…, Clear Your Points",
            ("data.added", "data.removed", "data.domain", "data.regression"),
        ),
    ),
    _panel(
        "network",
        "Network",
        "The network builder in the middle",
        "the network",
        (
            "layers",
            "Layers",
            "Palette, drag and drop, Delete, editing a layer, Import Model…",
            ("network",),
        ),
        (
            "weights",
            "Weights and units",
            "Typing a weight or switching a unit off in Network Inside, Import Model…",
            (),
            True,
            False,
        ),
    ),
    _panel(
        "plots",
        "Plots",
        "The decision boundary and the curves on the right",
        "the plots",
        ("boundary", "Decision boundary", "The model's output over the plane", (), False),
        ("curves", "Loss and accuracy", "The curves' tab", (), False),
        ("gradients", "Gradients", "Gradient norms per layer: a tab", (), False),
        ("view_options", "View options", "Show test data, Discretize output, Log-scale loss"),
        ("confusion", "Confusion matrix", "The confusion matrix window (Ctrl+M)", (), False),
    ),
    _panel(
        "inside",
        "Inside the network",
        "The windows that show the network's units, maths and hidden space",
        "the views inside the network",
        ("network_view", "Network Inside", "Every unit and weight (Ctrl+Shift+N)", (), False),
        ("maths", "Maths of a layer", "Formulas and weight matrices (Ctrl+Shift+M)", (), False),
        ("hidden_space", "Hidden space", "The data seen by a hidden layer", (), False),
    ),
)
CONTROLS: dict[str, Control] = {c.name: c for p in PANELS for c in p.controls}
_PANELS: dict[str, Panel] = {p.name: p for p in PANELS}
_GENERATOR = (
    "data.dataset",
    "data.classes",
    "data.points",
    "data.split",
    "data.noise",
    "data.seed",
)
"""Controls whose change makes new points: removed points belong to the old ones and go."""


def _in_sentence(title: str) -> str:
    """A title inside a sentence: "Learning rate" -> "learning rate", "L2 decay" stays."""
    return title if title[1:2].isupper() or title[1:2].isdigit() else title[0].lower() + title[1:]


def _setting(experiment: Any, path: str) -> Any:
    value = experiment
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _name_problem(name: Any) -> str | None:
    """Why ``name`` is not a panel or control, with the names it could have meant, or None."""
    if not isinstance(name, str):
        return f"a name must be text, not {name!r}"
    if name in _PANELS or name in CONTROLS:
        return None
    panel = _PANELS.get(name.split(".", 1)[0])
    if panel is not None:
        names = ", ".join(c.name.split(".", 1)[1] for c in panel.controls)
        return f"unknown control {name!r} (the {panel.name} panel's controls: {names})"
    close = difflib.get_close_matches(name, [*_PANELS, *CONTROLS], n=2, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"unknown panel or control {name!r} ({hint}panels: {', '.join(_PANELS)})"


@dataclass(frozen=True)
class Classroom:
    """What learners see and may change, and the teacher's note; hashable and comparable.

    ``entries`` are the file's (name, state) pairs, panel or control names, in the file's
    order; ``state(control)`` resolves them.
    """

    entries: tuple[tuple[str, State], ...] = ()
    note: str = ""

    # -- reading the rules ------------------------------------------------------------------

    def state(self, control: str) -> State:
        """The state of a control: its own entry, else its panel's (fitted), else shown."""
        spec = CONTROLS[control]
        given = dict(self.entries)
        if control in given:
            return given[control]
        return spec.fit(given.get(spec.panel, State.SHOW))

    def states(self) -> dict[str, State]:
        """Every control's state."""
        return {name: self.state(name) for name in CONTROLS}

    def shows(self, control: str) -> bool:
        """Whether the control is on screen (shown or locked)."""
        return self.state(control) is not State.HIDE

    def changeable(self, control: str) -> bool:
        """Whether the learner may change it (shown, not locked or hidden)."""
        return self.state(control) is State.SHOW

    def panel_hidden(self, panel: str) -> bool:
        """Whether every control of the panel that has a widget is hidden."""
        return all(self.state(c.name) is State.HIDE for c in _PANELS[panel].controls if c.can_hide)

    def refusal_of(self, control: str) -> str | None:
        """Why the learner may not use ``control``, as a status-bar sentence, or None."""
        state = self.state(control)
        if state is State.SHOW:
            return None
        how = "Locked" if state is State.LOCK else "Hidden"
        return f"{how} by the class file: {_in_sentence(CONTROLS[control].title)}."

    def refusal(self, old: Any, new: Any) -> str | None:
        """Why the change from experiment ``old`` to ``new`` is refused, or None if the
        learner may make it (every setting that changed belongs to a changeable control)."""
        changed = [
            name
            for name, spec in CONTROLS.items()
            if any(_setting(old, s) != _setting(new, s) for s in spec.settings)
        ]
        # new points drop the removed ones: that alone is not a change of your own points
        if (
            "data.your_points" in changed
            and any(g in changed for g in _GENERATOR)
            and (old.data.added, old.data.domain) == (new.data.added, new.data.domain)
        ):
            changed.remove("data.your_points")
        for name in changed:
            refusal = self.refusal_of(name)
            if refusal is not None:
                return refusal
        return None

    def summary(self) -> str:
        """One line for the banner: what is locked and what is hidden."""
        parts = []
        for state, word in ((State.LOCK, "Locked"), (State.HIDE, "Hidden")):
            titles = self._titles(state)
            if titles:
                parts.append(f"{word}: {', '.join(titles)}.")
        return " ".join(parts) or "Nothing is locked or hidden."

    def _titles(self, state: State) -> list[str]:
        """The panels wholly in ``state``, and the other controls in it, by title."""
        titles = []
        for panel in PANELS:
            if state is State.LOCK and self.panel_hidden(panel.name):
                continue  # "the network" is hidden: its weights being locked goes without saying
            names = [c.name for c in panel.controls if self.state(c.name) is state]
            # a hidden panel's controls that cannot hide are locked: the panel is still hidden
            whole = all(
                self.state(c.name) is state or (state is State.HIDE and not c.can_hide)
                for c in panel.controls
            )
            if names and whole:
                titles.append(panel.phrase)
            else:
                titles.extend(_in_sentence(CONTROLS[n].title) for n in names)
        return titles

    # -- making one ---------------------------------------------------------------------------

    @classmethod
    def from_states(cls, states: Mapping[str, State], note: str = "") -> Classroom:
        """The shortest classroom that gives every control ``states[name]`` (missing: shown):
        a panel whose controls agree is one entry."""
        entries: list[tuple[str, State]] = []
        for panel in PANELS:
            wanted = {c.name: c.fit(states.get(c.name, State.SHOW)) for c in panel.controls}
            # the panel's state is the one most of its controls take (fitted), ties go to the
            # less restrictive; the controls that differ get entries of their own
            counts = {s: sum(c.fit(s) is wanted[c.name] for c in panel.controls) for s in State}
            best = max(State, key=lambda s: (counts[s], -s.rank))
            if best is not State.SHOW:
                entries.append((panel.name, best))
            for c in panel.controls:
                if c.fit(best) is not wanted[c.name]:
                    entries.append((c.name, wanted[c.name]))
        classroom = cls(tuple(entries), note)
        return classroom

    # -- the file -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The file's "classroom" section."""
        out: dict[str, Any] = {}
        if self.note:
            out["note"] = self.note
        out["controls"] = {name: state.value for name, state in self.entries}
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Classroom:
        """Read ``to_dict``'s output; raises ClassroomError naming the bad name or value."""
        if not isinstance(data, dict):
            raise ClassroomError(
                f"the classroom section must be an object, not {type(data).__name__}"
            )
        unknown = sorted(set(data) - {"note", "controls"})
        if unknown:
            raise ClassroomError(
                f"the classroom section has unknown field(s) {unknown} (it has 'note' and "
                "'controls')"
            )
        note = data.get("note", "")
        if not isinstance(note, str):
            raise ClassroomError(f"classroom.note must be text, not {type(note).__name__}")
        if len(note) > MAX_NOTE:
            raise ClassroomError(
                f"classroom.note has {len(note):,} characters; the limit is {MAX_NOTE:,}"
            )
        controls = data.get("controls", {})
        if not isinstance(controls, dict):
            raise ClassroomError(
                'classroom.controls must be an object of name: "show", "lock" or "hide"'
            )
        return cls(tuple(_entries(controls.items())), note)


def _entries(items: Iterable[tuple[Any, Any]]) -> list[tuple[str, State]]:
    entries = []
    for name, value in items:
        problem = _name_problem(name)
        if problem:
            raise ClassroomError(f"classroom.controls: {problem}")
        try:
            state = State(value)
        except (ValueError, TypeError):
            raise ClassroomError(
                f'classroom.controls[{name!r}] must be "show", "lock" or "hide", not {value!r}'
            ) from None
        control = CONTROLS.get(name)
        if control is not None and state not in control.states:
            can = " or ".join(f'"{s.value}"' for s in control.states)
            raise ClassroomError(
                f"classroom.controls[{name!r}]: {_in_sentence(control.title)} can be {can}, "
                f'not "{state.value}"'
            )
        entries.append((name, state))
    return entries
