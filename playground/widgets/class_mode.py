"""Class mode: the window as a class file asks, the rule it keeps, and the teacher's way out.

``ClassMode.apply(classroom)`` shows the window the way an experiment's ``classroom`` section
says (``playground.classroom``): hidden controls leave the screen (a form row with its label, a
tab, a dock and its View-menu toggle, a whole column when nothing of it is left), locked ones
stay in sight but disabled, their actions too, so their shortcuts do nothing. A banner under the
training bar and the status bar say it is a class file, with the teacher's note.

Disabling is the visible half; the rule is the other: the window asks ``refuses(new)`` before
any change of the experiment (a panel's widget, a shortcut, a menu, a drop on the layer stack, a
click on the plot) and ``refuses_control(name)`` before Play, Step or an edit in the network
view, so a locked setting does not change whichever way a change comes. Undo cannot change one
either: every edit on the stack was allowed when it was made.

View > Leave Class Mode… asks first, then shows and unlocks everything; the experiment is then
an ordinary one (saving writes no classroom section) until a class file is opened again.
File > New and File > Open start another experiment as always (with its own classroom, if it
has one): class mode is a teaching aid, not a lock, and the class file itself never changes
unless the learner saves over it (which keeps its classroom section).
File > Save for Class… (``save_for_class``) writes a class file of the current experiment
without changing the window.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDockWidget,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMessageBox,
    QSplitter,
    QToolButton,
    QWidget,
)

from ..classroom import CONTROLS, Classroom, State
from ..document import problem_text
from ..experiment import Experiment, dump_experiment
from ..files import write_text
from .icons import icon

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["ClassBanner", "ClassMode"]

LOCKED_TIP = "Locked by the class file"


class _StayDisabled(QObject):
    """Keeps a locked widget disabled whatever its panel says (the data panel enables the
    generator's settings again when the dataset is no longer Custom, say)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.EnabledChange
            and isinstance(watched, QWidget)
            and watched.isEnabled()
        ):
            watched.setEnabled(False)
        return False


class ClassBanner(QFrame):
    """The strip under the training bar that says the window shows a class file."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("class_banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#class_banner { background: rgba(8, 119, 189, 0.14);"
            " border: 1px solid rgba(8, 119, 189, 0.7); border-radius: 4px; }"
        )
        badge = QLabel(self)
        badge.setPixmap(icon("class").pixmap(28, 28))
        self.text = QLabel(self)
        self.text.setObjectName("class_banner_text")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.text, 1)
        self.hide()

    def show_classroom(self, classroom: Classroom) -> None:
        """Say that this is a class file, the teacher's note and what is locked or hidden."""
        note = html.escape(classroom.note).replace("\n", "<br>")
        self.text.setText(
            "<b>Class file</b>"
            + (f" — {note}" if note else "")
            + f"<br><small>{html.escape(classroom.summary())}</small>"
        )
        self.show()

    def message(self) -> str:
        """The banner's text without markup."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.text.text())
        return doc.toPlainText()


@dataclass
class _Targets:
    """What of the window a control is: widgets (hidden, or locked), actions (hidden, or
    disabled with their shortcuts), tool buttons that only follow an action, docks with their
    View-menu toggle, tabs of the plots."""

    widgets: list[QWidget] = field(default_factory=list)
    actions: list[QAction] = field(default_factory=list)
    buttons: list[QWidget] = field(default_factory=list)
    docks: list[tuple[QDockWidget, QAction]] = field(default_factory=list)
    tabs: list[int] = field(default_factory=list)


def _form_of(widget: QWidget) -> QFormLayout | None:
    """The form layout that holds ``widget`` as a row's field (its label goes with it)."""
    parent = widget.parentWidget()
    layouts: list[QLayout] = [parent.layout()] if parent is not None and parent.layout() else []
    while layouts:
        layout = layouts.pop()
        if isinstance(layout, QFormLayout) and layout.indexOf(widget) >= 0:
            return layout
        for i in range(layout.count()):
            child = layout.itemAt(i).layout()
            if child is not None:
                layouts.append(child)
    return None


class ClassMode(QObject):
    """The window's class mode: ``apply``, the rule (``refuses``), Save for Class, Leave."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.classroom: Classroom | None = None
        """The classroom shown now (None: not in class mode)."""
        self.last: Classroom | None = None
        """The last classroom shown: Save for Class… starts from it."""
        self._undo: list[Callable[[], None]] = []
        self._suspended = False
        self._stay_disabled = _StayDisabled(self)
        self._locked_actions = QActionGroup(self)
        self._locked_actions.setExclusionPolicy(QActionGroup.ExclusionPolicy.None_)
        self._locked_actions.setEnabled(False)  # an action in it stays disabled (Qt's rule)

        self.save_action = QAction(icon("class"), "Save for &Class…", window)
        self.save_action.setObjectName("save_for_class")
        tip = (
            "Save a class file: the experiment with what learners see and may change "
            "(panels and controls shown, locked or hidden)"
        )
        self.save_action.setToolTip(tip)
        self.save_action.setStatusTip(tip)
        self.save_action.triggered.connect(lambda: self.save_for_class())
        self.leave_action = QAction("Leave &Class Mode…", window)
        self.leave_action.setObjectName("leave_class_mode")
        tip = "For the teacher: show and unlock every panel and control (asks first)"
        self.leave_action.setToolTip(tip)
        self.leave_action.setStatusTip(tip)
        self.leave_action.triggered.connect(lambda: self.leave())
        self.leave_action.setVisible(False)

        self.banner = ClassBanner(window)
        central = window.centralWidget().layout()
        central.insertWidget(central.indexOf(window.notice), self.banner)
        self.status_label = QLabel("<b>Class mode</b>", window)
        self.status_label.setObjectName("class_status")
        self.status_label.setToolTip("This is a class file: some controls are locked or hidden")
        window.statusBar().addPermanentWidget(self.status_label)
        self.status_label.hide()
        window.inside.refusal = self.refusal_of

    # -- the rule ---------------------------------------------------------------------------

    def refusal_of(self, control: str) -> str | None:
        """Why the class file refuses ``control`` (a sentence), or None."""
        if self.classroom is None or self._suspended:
            return None
        return self.classroom.refusal_of(control)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Refuse nothing inside the block: the command line's --train is the teacher's, not
        the learner's (the screen stays as the class file says)."""
        self._suspended = True
        try:
            yield
        finally:
            self._suspended = False

    def refuses_control(self, control: str) -> bool:
        """True (with the reason in the status bar) when the learner may not use ``control``."""
        refusal = self.refusal_of(control)
        if refusal is not None:
            self._window.status(refusal)
        return refusal is not None

    def refuses(self, new: Experiment) -> bool:
        """True when changing the experiment to ``new`` touches a locked or hidden setting:
        the reason goes to the status bar and every panel shows the experiment as it is."""
        if self.classroom is None or self._suspended:
            return False
        refusal = self.classroom.refusal(self._window.experiment, new)
        if refusal is None:
            return False
        self._window.status(refusal)
        self._window._show_experiment()
        return True

    # -- showing a classroom ------------------------------------------------------------------

    def apply(self, classroom: Classroom | None) -> None:
        """Show the window as ``classroom`` says (None: everything shown and changeable)."""
        if classroom == self.classroom:
            return
        self._restore()
        self.classroom = classroom
        window = self._window
        if classroom is not None:
            self.last = classroom
            targets = self._targets()
            for name, state in classroom.states().items():
                if state is not State.SHOW:
                    self._apply_state(targets[name], state, CONTROLS[name].can_lock)
            self._hide_empty_parts(classroom)
            self.banner.show_classroom(classroom)
        else:
            self.banner.hide()
        window.inside.set_playing(window.controller.is_playing)  # editable weights or not
        self.status_label.setVisible(classroom is not None)
        self.leave_action.setVisible(classroom is not None)

    def _targets(self) -> dict[str, _Targets]:
        w = self._window
        c, d, b, p, i = w.controls, w.data_panel, w.builder, w.plots, w.inside

        def buttons(*names: str) -> list[QWidget]:
            return [c.findChild(QToolButton, f"{n}_button") for n in names]

        toggles = [p.show_test_action, p.discretize_action, p.log_scale_action]
        return {
            "training.play": _Targets(
                actions=[c.play_action, c.step_action], buttons=buttons("play", "step")
            ),
            "training.reset": _Targets(actions=[c.reset_action], buttons=buttons("reset")),
            "training.learning_rate": _Targets([c.learning_rate]),
            "training.batch_size": _Targets([c.batch_size]),
            "training.weight_decay": _Targets([c.regularization, c.weight_decay]),
            "training.init": _Targets([c.init]),
            "training.optimizer": _Targets([c.optimizer]),
            "training.loss": _Targets([c.loss]),
            "training.stop_conditions": _Targets([c.stop_box]),
            "data.dataset": _Targets([d.dataset]),
            "data.classes": _Targets([d.classes]),
            "data.points": _Targets([d.points]),
            "data.split": _Targets([d.test_percent]),
            "data.noise": _Targets([d.noise]),
            "data.seed": _Targets([d.seed, d.regenerate]),
            "data.features": _Targets(list(d.feature_boxes.values())),
            "data.standardize": _Targets([d.standardize]),
            "data.your_points": _Targets(
                [d.added_label, d.click_class], [w.import_points_action, w.clear_points_action]
            ),
            "network.layers": _Targets(
                [b.palette_list, b.view], [b.view.remove_action, w.import_action]
            ),
            "network.weights": _Targets(actions=[w.import_action]),
            "plots.boundary": _Targets([p.boundary]),
            "plots.curves": _Targets(tabs=[0]),
            "plots.gradients": _Targets(tabs=[1]),
            "plots.view_options": _Targets(
                [p.findChild(QCheckBox, f"{a.objectName()}_box") for a in toggles], toggles
            ),
            "plots.confusion": _Targets(docks=[(w.confusion_dock, w.confusion_action)]),
            "inside.network_view": _Targets(docks=[(i.network_dock, i.network_action)]),
            "inside.maths": _Targets(docks=[(i.maths_dock, i.maths_action)]),
            "inside.hidden_space": _Targets(docks=[(i.hidden_dock, i.hidden_action)]),
        }

    def _apply_state(self, targets: _Targets, state: State, can_lock: bool) -> None:
        hide = state is State.HIDE
        for widget in targets.widgets:
            if hide:
                self._hide(widget)
            if can_lock:
                self._lock(widget)
        for action in targets.actions:
            if hide:
                action.setVisible(False)
                self._undo.append(lambda a=action: a.setVisible(True))
            else:
                self._locked_actions.addAction(action)
        for button in targets.buttons:
            if hide:
                self._hide(button)
        for dock, toggle in targets.docks:
            shown = not dock.isHidden()
            dock.hide()
            toggle.setVisible(False)
            self._undo.append(lambda t=toggle: t.setVisible(True))
            self._undo.append(lambda d=dock, s=shown: d.setVisible(s))
        tabs = self._window.plots.tabs
        for index in targets.tabs:
            tabs.setTabVisible(index, False)
            self._undo.append(lambda i=index: tabs.setTabVisible(i, True))

    def _hide(self, widget: QWidget) -> None:
        """Hide a widget, with its label if it is a form row."""
        form = _form_of(widget)
        if form is not None:
            form.setRowVisible(widget, False)
            self._undo.append(lambda: form.setRowVisible(widget, True))
            return
        shown = not widget.isHidden()
        widget.hide()
        self._undo.append(lambda: widget.setVisible(shown))

    def _lock(self, widget: QWidget) -> None:
        """Disable a widget for good (until the classroom goes), saying why in its tooltip."""
        tip = widget.toolTip()
        widget.setToolTip(f"{tip}\n({LOCKED_TIP})" if tip else LOCKED_TIP)
        widget.setEnabled(False)
        widget.installEventFilter(self._stay_disabled)

        def unlock() -> None:
            widget.removeEventFilter(self._stay_disabled)
            widget.setEnabled(True)
            widget.setToolTip(tip)

        self._undo.append(unlock)

    def _hide_empty_parts(self, classroom: Classroom) -> None:
        """Hide what has nothing left to show: a panel, a column, the tabs, a group box."""
        w = self._window
        hidden = {name for name, s in classroom.states().items() if s is State.HIDE}
        columns = w.findChild(QSplitter, "columns")
        parts = [
            (w.data_panel, classroom.panel_hidden("data")),
            (
                w.data_panel.feature_boxes["x1"].parentWidget(),
                {"data.features", "data.standardize"} <= hidden,
            ),
            (
                columns.widget(0),
                classroom.panel_hidden("data") and "training.stop_conditions" in hidden,
            ),
            (columns.widget(1), "network.layers" in hidden),
            (w.plots.tabs, {"plots.curves", "plots.gradients"} <= hidden),
            (
                columns.widget(2),
                {"plots.boundary", "plots.curves", "plots.gradients", "plots.view_options"}
                <= hidden,
            ),
        ]
        for widget, empty in parts:
            if empty:
                self._hide(widget)

    def _restore(self) -> None:
        """Undo what ``apply`` did: everything shown and changeable as the panels say."""
        while self._undo:
            self._undo.pop()()
        self._locked_actions.setEnabled(True)  # the actions take back their own enabled state
        for action in self._locked_actions.actions():
            self._locked_actions.removeAction(action)
        self._locked_actions.setEnabled(False)
        w = self._window
        w.data_panel.set_spec(w.experiment.data)  # what a panel itself disables, it says again
        w.controls.set_spec(w.experiment.train)

    # -- the teacher's side --------------------------------------------------------------------

    def save_for_class(
        self,
        path: str | os.PathLike | None = None,
        classroom: Classroom | None = None,
        *,
        with_weights: bool | None = None,
    ) -> bool:
        """Write the experiment as a class file (asking what learners may see and change, and
        where, when not given); the window itself stays as it is."""
        w = self._window
        if classroom is None:
            from .classroom_dialog import SaveForClassDialog

            epoch = w._trained_epoch() if w.session is not None else None
            dialog = SaveForClassDialog(
                w, self.classroom or self.last, epoch, w.include_weights_action.isChecked()
            )
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            classroom, with_weights = dialog.classroom(), dialog.with_weights()
        if path is None:
            stem = w.file_path.stem if w.file_path is not None else "experiment"
            stem = stem if stem.endswith("-class") else f"{stem}-class"
            path = w._ask_save("Save for Class", f"{stem}.json", "Class file (*.json)")
            if not path:
                return False
        weights = None
        if with_weights and w.session is not None:
            with w.controller.locked_session() as session:
                weights = session.saved_weights()
        try:
            write_text(path, dump_experiment(w.experiment.replace(classroom=classroom), weights))
        except OSError as e:
            problem = problem_text(e)
            QMessageBox.warning(w, "Save for Class", f"Could not save {path}:\n\n{problem}")
            w.status(f"Save failed: {path}: {problem}")
            return False
        w._add_recent(path)
        with_weights = f" with the weights of epoch {weights.epoch}" if weights else ""
        w.status(
            f"Saved the class file {Path(path).name}{with_weights}. {classroom.summary()} "
            "Open it to see it as learners will."
        )
        return True

    def leave(self, *, ask: bool = True) -> bool:
        """Show and unlock everything (after asking, with ``ask``); the file is not changed."""
        w = self._window
        if self.classroom is None:
            return False
        if ask:
            answer = QMessageBox.question(
                w,
                "Leave Class Mode",
                "Show and unlock every panel and control?\n\nThe class file is not changed. "
                "Saving now writes an ordinary experiment; File > Save for Class… writes a "
                "class file again.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        w.undo_stack.clear()  # an undone import would otherwise bring the classroom back
        w.document.change(w.experiment.replace(classroom=None))
        self.apply(None)
        w._update_title()
        w.status("Left class mode: every panel and control is shown and can be changed.")
        return True
