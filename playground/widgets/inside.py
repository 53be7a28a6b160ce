"""The inside of the network in the window: the network view, the maths and hidden-space docks.

``InsideViews`` owns the three docks (``network_dock``, shown by default; ``maths_dock``, shown
when a column's title is clicked; ``hidden_dock``, hidden by default) and wires them to the
window's session:

- every snapshot redraws what is visible: the network view's maps (``column_maps(16)``) and
  links, the selected column's maths, the hidden space; all from the snapshot's weights while
  the worker trains, from the session's own weights while the window holds it;
- hovering a unit shows its map large on the boundary plot, titled with its formula;
- while paused, a typed weight or bias and a unit switched off are undoable edits on the
  window's undo stack; the boundary, the maps and the loss follow at once;
- hovering the boundary plot shows that point's activations on every unit and, once a step was
  taken, each link's gradient for that point (at most one update per ``HOVER_MS``).

The window tells it three things: ``rebuilt()`` (a new session), ``show_snapshot(snap)`` and
``set_playing(playing)``. The gradient-norm curves live in the plots' Gradients tab.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand
from PySide6.QtWidgets import QAbstractButton, QDockWidget

from ..experiment import ExperimentError
from .hidden_view import HiddenSpaceView
from .maths_panel import MathsPanel
from .network_view import NetworkView, _auto_levels, _subscript

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["HOVER_MS", "MAP_SIZE", "InsideViews"]

MAP_SIZE = 16
"""Each unit's thumbnail is its output on a MAP_SIZE x MAP_SIZE grid over the plot domain."""
HOVER_MS = 30
"""A point hovered on the plot updates the network view at most once per this many ms."""
NEAR_PX = 15
"""A hovered spot takes the class of a data point within this many pixels, else the predicted."""


class _ParameterEdit(QUndoCommand):
    """One weight or bias typed in the network view; undo sets the old value back exactly."""

    def __init__(
        self, views: InsideViews, session_id: int, key: str, index: tuple, new: float, old: float
    ) -> None:
        where = ", ".join(str(i) for i in index)
        super().__init__(f"Set {key}[{where}] to {new:g}")
        self._views, self._session_id = views, session_id
        self._key, self._index, self._new, self._old = key, tuple(index), new, old
        self._first = True

    def redo(self) -> None:
        if self._first:  # the push: the value is already set
            self._first = False
            return
        self._views._set_parameter(self._session_id, self._key, self._index, self._new, +1)

    def undo(self) -> None:
        self._views._set_parameter(self._session_id, self._key, self._index, self._old, -1)


class _UnitToggle(QUndoCommand):
    """One unit switched off (or back on) in the network view; undo switches it back."""

    def __init__(
        self, views: InsideViews, session_id: int, column: int, unit: int, enabled: bool
    ) -> None:
        super().__init__(f"Switch unit {unit + 1} of column {column} {'on' if enabled else 'off'}")
        self._views, self._session_id = views, session_id
        self._column, self._unit, self._enabled = column, unit, enabled

    def redo(self) -> None:
        self._views._set_unit(self._session_id, self._column, self._unit, self._enabled)

    def undo(self) -> None:
        self._views._set_unit(self._session_id, self._column, self._unit, not self._enabled)


def _dock(window: MainWindow, title: str, name: str, widget: Any, area: Any) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(widget)
    window.addDockWidget(area, dock)
    tips = {
        "qt_dockwidget_floatbutton": f"Float {title} in its own window (double-click its title "
        "to dock it again)",
        "qt_dockwidget_closebutton": f"Hide {title} (View menu shows it again)",
    }
    for button in dock.findChildren(QAbstractButton):
        if button.objectName() in tips:
            button.setToolTip(tips[button.objectName()])
    return dock


class InsideViews(QObject):
    """The network view, maths panel and hidden-space view in their docks, fed live."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.network = NetworkView(window)
        self.maths = MathsPanel(window)
        self.hidden = HiddenSpaceView(window)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.network_dock = _dock(window, "Network Inside", "network_dock", self.network, right)
        self.maths_dock = _dock(
            window, "Maths", "maths_dock", self.maths, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.hidden_dock = _dock(window, "Hidden Space", "hidden_dock", self.hidden, right)
        self.maths_dock.hide()
        self.hidden_dock.hide()
        # the network dock keeps the right side to the bottom; the maths sit under the plots
        window.setCorner(Qt.Corner.BottomRightCorner, right)
        self.network_action = self._toggle(
            self.network_dock,
            "&Network Inside",
            "network",
            "Ctrl+Shift+N",
            "Every unit's output, every weight and bias; hover, edit, switch units off",
        )
        self.maths_action = self._toggle(
            self.maths_dock,
            "M&aths of a Layer",
            "maths",
            "Ctrl+Shift+M",
            "The selected layer's formulas, weights and last gradient",
        )
        self.hidden_action = self._toggle(
            self.hidden_dock,
            "&Hidden Space",
            "hidden_space",
            "Ctrl+Shift+H",
            "The data and the input grid in the space of two units of a hidden layer",
        )
        self.refusal: Callable[[str], str | None] = lambda control: None
        """Why a class file refuses a control ("network.weights", "inside.maths"), or None."""
        self._snap_weights: dict[str, np.ndarray] | None = None
        self._snap_grads: dict[str, np.ndarray] | None = None
        self.redraw_pending = False
        """Whether a snapshot's redraw of the views is queued."""
        self._selected: int | None = None
        self._hovered_unit: tuple[int, int] | None = None
        self._point: tuple[float, float] | None = None
        self._point_timer = QTimer(self)
        self._point_timer.setSingleShot(True)
        self._point_timer.timeout.connect(self._show_point)
        self._last_point_time = 0.0
        self.point_seconds = math.nan
        """How long the last point hover's update took (activations and gradients), seconds."""

        self.network.unitHovered.connect(self._on_unit_hovered)
        self.network.parameterEdited.connect(self._on_parameter_edited)
        self.network.unitToggled.connect(self._on_unit_toggled)
        self.network.columnSelected.connect(self._on_column_selected)
        self.hidden.choiceChanged.connect(lambda *_: self._show_hidden())
        window.plots.boundary.hovered.connect(self._on_point_hovered)
        self.network_dock.visibilityChanged.connect(self._on_visible)
        self.maths_dock.visibilityChanged.connect(self._on_visible)
        self.hidden_dock.visibilityChanged.connect(self._on_visible)

    def _toggle(self, dock: QDockWidget, text: str, name: str, key: str, tip: str) -> QAction:
        action = dock.toggleViewAction()
        action.setText(text)
        action.setObjectName(name)
        action.setShortcut(QKeySequence(key))
        action.setToolTip(f"{tip} ({key})")
        return action

    def actions(self) -> list[QAction]:
        """The View menu's toggles of the three docks."""
        return [self.network_action, self.maths_action, self.hidden_action]

    # -- what the window tells us ------------------------------------------------------------

    @property
    def _session(self) -> Any:
        return self._window.session

    def weights(self) -> dict[str, np.ndarray] | None:
        """The weights to draw: the last snapshot's while the worker trains, else None (the
        session's own)."""
        return None if self._window.controller.is_idle else self._snap_weights

    def _grads(self) -> dict[str, np.ndarray] | None:
        return None if self._window.controller.is_idle else self._snap_grads

    def rebuilt(self) -> None:
        """A new session: new columns everywhere, drawn from its weights."""
        session = self._session
        self._snap_weights = self._snap_grads = None
        self._hovered_unit = None
        self._window.plots.boundary.show_map(None)
        if session is None:
            return
        self.network.set_structure(session.columns)
        self.network.set_disabled(session.disabled_units)
        self.set_playing(self._window.controller.is_playing)
        self.hidden.set_columns(session.columns)
        if self._selected is not None and self._selected >= len(session.columns):
            self._selected = None
            self.maths.clear()
        self.redraw()

    def show_snapshot(self, snap: Any) -> None:
        """Keep the snapshot's weights and redraw the visible views from a zero timer.

        The boundary and the curves are drawn in the same event as the snapshot; the views
        next, so that input and timers get a turn between the two (halving the GUI thread's
        longest busy stretch). The worker's next snapshot waits for both (its ``Consumed`` is
        queued after this).
        """
        if snap.weights is not None:
            self._snap_weights, self._snap_grads = snap.weights, snap.grads
        if not self.redraw_pending:
            self.redraw_pending = True
            QTimer.singleShot(0, self._deferred_redraw)

    @Slot()
    def _deferred_redraw(self) -> None:
        self.redraw_pending = False
        self.redraw()

    def set_playing(self, playing: bool) -> None:
        """Edits only while paused (and never of weights a class file locks)."""
        self.network.set_editable(not playing and self.refusal("network.weights") is None)

    def redraw(self) -> None:
        """Draw every visible view from the current weights."""
        session = self._session
        if session is None:
            return
        weights = self.weights()
        try:
            if self.network_dock.isVisible():
                self.network.set_maps(session.column_maps(MAP_SIZE, weights), None)
                self.network.set_weights(
                    weights if weights is not None else self._own_weights(session)
                )
                if self._hovered_unit is not None:
                    self._show_unit_map(*self._hovered_unit)
            if self.maths_dock.isVisible():
                self._show_maths()
            if self.hidden_dock.isVisible():
                self._show_hidden()
        except ExperimentError as e:
            self._window.status(str(e))

    @staticmethod
    def _own_weights(session: Any) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in session.model.state_dict().items()}

    @Slot(bool)
    def _on_visible(self, visible: bool) -> None:
        if visible:
            self.redraw()

    # -- hover a unit ------------------------------------------------------------------------

    @Slot(int, int)
    def _on_unit_hovered(self, column: int, unit: int) -> None:
        if column < 0 or self._session is None:
            self._hovered_unit = None
            self._window.plots.boundary.show_map(None)
            return
        self._hovered_unit = (column, unit)
        self._show_unit_map(column, unit)

    def _show_unit_map(self, column: int, unit: int) -> None:
        """The unit's output at the boundary grid's size, on the boundary plot."""
        from ..session import GRID_SIZE

        session = self._session
        col = session.columns[column]
        values = session.column_maps(GRID_SIZE, self.weights())[column][unit]
        if col.formula:  # this unit's: h₂,ⱼ = ... becomes h₂,₄ = ...
            title = col.formula.replace("ⱼ", _subscript(unit + 1), 1)
        else:
            title = f"{col.names[unit]} (input feature, standardised)"
        self._window.plots.boundary.show_map(values, _auto_levels(col, values), title)

    # -- edits while paused ------------------------------------------------------------------

    def _held_session(self, what: str) -> Any:
        """The session if the window holds it (paused), else None with the reason on screen."""
        if self._session is None:
            return None
        refusal = self.refusal("network.weights")
        if refusal is not None:
            self._window.status(refusal)
            return None
        if not self._window.controller.is_idle:
            self._window.status(f"Pause training first to {what}.")
            return None
        return self._session

    @Slot(str, object, float)
    def _on_parameter_edited(self, key: str, index: Any, value: float) -> None:
        session = self._held_session("change a weight")
        if session is None:
            return
        try:
            old = session.set_parameter(key, tuple(index), value)
        except ExperimentError as e:
            self._window.status(f"Not changed: {e}")
            return
        self._window.undo_stack.push(
            _ParameterEdit(self, session.session_id, key, tuple(index), value, old)
        )
        self._count_weight_edit(+1)
        self._after_edit(f"Set {key}{list(index)} to {value:g} (was {old:.4g})")

    def _set_parameter(
        self, session_id: int, key: str, index: tuple, value: float, count: int
    ) -> None:
        """Set one weight or bias again (an undo counts -1 edit, a redo +1)."""
        session = self._edited_session(session_id)
        if session is None:
            return
        try:
            session.set_parameter(key, index, value)
        except ExperimentError as e:
            self._window.status(f"Not changed: {e}")
            return
        self._count_weight_edit(count)
        self._after_edit(f"Set {key}{list(index)} to {value:g}")

    def _count_weight_edit(self, count: int) -> None:
        """A typed-in weight changes what a saved file would carry: the title says modified."""
        self._window.document.weight_edits += count
        self._window._update_title()

    @Slot(int, int, bool)
    def _on_unit_toggled(self, column: int, unit: int, enabled: bool) -> None:
        session = self._held_session("switch a unit off or on")
        if session is None:
            return
        self._window.undo_stack.push(_UnitToggle(self, session.session_id, column, unit, enabled))

    def _set_unit(self, session_id: int, column: int, unit: int, enabled: bool) -> None:
        session = self._edited_session(session_id)
        if session is None:
            return
        try:
            session.set_unit_enabled(column, unit, enabled)
        except ExperimentError as e:
            self._window.status(f"Not changed: {e}")
            return
        self.network.set_disabled(session.disabled_units)
        name = session.columns[column].names[unit]
        self._after_edit(f"Switched {name} {'on' if enabled else 'off'}")

    def _edited_session(self, session_id: int) -> Any:
        """The session an undo or redo acts on: paused first; None if it is not that one."""
        controller = self._window.controller
        if controller.is_playing:
            controller.pause()
        with controller.locked_session() as session:  # waits for a pause or step to come back
            pass
        if session is None or session.session_id != session_id:
            self._window.status("That edit was of weights since reset: nothing to change.")
            return None
        return session

    def _after_edit(self, done: str) -> None:
        """Redraw the boundary, the maps and the views, and say the loss now."""
        session = self._session
        self._window.plots.boundary.set_grid(session.decision_grid())
        self.redraw()
        train, test = session.current_loss()
        test_text = f", test loss {test:.4f}" if math.isfinite(test) else ""
        self._window.status(f"{done}: training loss {train:.4f}{test_text}.")

    # -- a point's path ----------------------------------------------------------------------

    @Slot(object)
    def _on_point_hovered(self, point: tuple[float, float] | None) -> None:
        if not self.network_dock.isVisible():
            return
        self._point = point
        if point is None:
            self._point_timer.stop()
            self.network.set_activations(None)
            self.network.set_link_gradients(None)
            return
        wait = HOVER_MS / 1000 - (time.perf_counter() - self._last_point_time)
        if wait <= 0:
            self._show_point()
        elif not self._point_timer.isActive():
            self._point_timer.start(max(1, int(wait * 1000)))

    @Slot()
    def _show_point(self) -> None:
        session, point = self._session, self._point
        if session is None or point is None:
            return
        start = time.perf_counter()
        weights = self.weights()
        try:
            values = session.activations_at(point, weights)
            self.network.set_activations(values)
            snap = self._window.last_snapshot
            if snap is not None and snap.steps:
                label = self._label_at(point, values[-1])
                grads = session.point_gradients(point, label, weights)
                self.network.set_link_gradients(grads, point=point)
        except ExperimentError as e:
            self._window.status(str(e))
        self._last_point_time = time.perf_counter()
        self.point_seconds = self._last_point_time - start

    def _label_at(self, point: tuple[float, float], output: np.ndarray) -> int | float:
        """The class (a regression: target) of a data point near ``point``, else what the
        ``output`` unit(s) predict there (P > 0.5 of one output, the largest score of several,
        a regression's value itself)."""
        arrays = self._window._arrays
        if arrays is not None:
            xy = np.concatenate([arrays.x_train, arrays.x_test]).reshape(-1, 2)
            labels = np.concatenate([arrays.y_train, arrays.y_test])
            if len(xy):
                distance = np.hypot(xy[:, 0] - point[0], xy[:, 1] - point[1])
                best = int(np.argmin(distance))
                if distance[best] <= NEAR_PX * self._window.plots.boundary.pixel_size():
                    return float(labels[best]) if arrays.is_regression else int(labels[best])
            if arrays.is_regression:
                return float(output[0])
        if len(output) >= 2:
            return int(np.argmax(output))
        return int(output[0] > 0.5)

    # -- maths and hidden space --------------------------------------------------------------

    @Slot(int)
    def _on_column_selected(self, column: int) -> None:
        self._selected = column
        if self.refusal("inside.maths") is not None:  # hidden by a class file
            return
        if not self.maths_dock.isVisible():
            self.maths_dock.show()
            self._window.resizeDocks([self.maths_dock], [360], Qt.Orientation.Vertical)
        self.maths_dock.raise_()
        self._show_maths()

    def _show_maths(self) -> None:
        session = self._session
        if session is None or self._selected is None:
            return
        weights = self.weights()
        column = session.columns[self._selected]
        self.maths.show_column(
            column, *session.layer_matrices(self._selected, weights, self._grads())
        )

    def _show_hidden(self) -> None:
        session, choice = self._session, self.hidden.choice()
        if session is None or choice is None or not self.hidden_dock.isVisible():
            return
        try:
            self.hidden.show(session.hidden_space(choice[0], choice[1], weights=self.weights()))
        except ExperimentError as e:
            self._window.status(str(e))
