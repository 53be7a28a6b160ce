"""ConvNetJS's hidden-space view: the data and the input grid as one hidden layer sees them.

Pick a column (a hidden layer) and two of its units, or its first two principal components: the
owner computes a HiddenSpace (playground.insight; ``Session.hidden_space``) for that choice and
hands it to ``show``. The training points are filled discs and the test points rings in the
class colours of the main plot; the lines of constant x₁ and of constant x₂ of the input
domain, mapped through the network, are thin grey polylines, so one sees how the layer folds
and stretches the plane. Each ``show`` only sets data on items made once (two scatters, two
polylines), and the view range moves only when the data leaves it or shrinks well inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .colours import REGRESSION_MAP, class_colours
from .plots import _ThemedPlot

REGRESSION_BANDS = 9
"""A regression's targets are drawn in this many colour bands (one scatter each)."""

__all__ = ["HiddenSpaceView", "polyline_arrays"]


def polyline_arrays(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and pyqtgraph's ``connect`` array drawing ``lines`` (k, m, 2) as k polylines.

    Each point connects to the next one of its line when both are finite; non-finite points
    become 0 and connect to nothing (so they neither draw nor poison the path).
    """
    k, m = lines.shape[:2]
    finite = np.isfinite(lines).all(axis=-1)  # (k, m)
    connect = np.zeros((k, m), dtype=np.int32)
    connect[:, :-1] = finite[:, :-1] & finite[:, 1:]
    points = np.where(finite[..., None], lines, 0.0)
    return points[..., 0].ravel(), points[..., 1].ravel(), connect.ravel()


class HiddenSpaceView(QWidget):
    """The data and the warped input grid in the space of two units of one hidden column.

    ``set_columns(columns)`` fills the pickers (Columns of playground.insight; those with
    fewer than two units are left out); the user's choice is emitted as ``choiceChanged(column,
    units)`` with units a (a, b) pair, or None for the first two principal components.
    ``show(hidden)`` draws a HiddenSpace. Class 0 is orange, any class above 0 blue.
    """

    choiceChanged = Signal(int, object)  # noqa: N815 (Qt's naming)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hidden_view")
        self.column_box = QComboBox(self)
        self.column_box.setObjectName("hidden_column")
        self.column_box.setToolTip("The hidden layer whose space is drawn")
        self.unit_a = QComboBox(self)
        self.unit_b = QComboBox(self)
        self.unit_a.setObjectName("hidden_unit_a")
        self.unit_b.setObjectName("hidden_unit_b")
        self.unit_a.setToolTip("The unit along the horizontal axis")
        self.unit_b.setToolTip("The unit along the vertical axis")
        self.pca = QCheckBox("First two principal components", self)
        self.pca.setObjectName("hidden_pca")
        self.pca.setToolTip(
            "Draw the two directions in which the layer's activations on the training points "
            "vary most, instead of two units"
        )
        pickers = QHBoxLayout()
        pickers.addWidget(QLabel("Layer", self))
        pickers.addWidget(self.column_box, 2)
        pickers.addWidget(QLabel("units", self))
        pickers.addWidget(self.unit_a, 1)
        pickers.addWidget(self.unit_b, 1)
        pickers.addWidget(self.pca)
        pickers.addStretch(0)

        self.plot = _ThemedPlot(self)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setContentsMargins(2, 6, 6, 2)
        item.enableAutoRange(enable=False)
        grey = QColor(128, 128, 128, 150)
        self.grid_x1 = pg.PlotCurveItem(pen=pg.mkPen(grey, width=0))  # lines of constant x1
        self.grid_x2 = pg.PlotCurveItem(pen=pg.mkPen(grey, width=0))  # lines of constant x2
        for part in (self.grid_x1, self.grid_x2):
            item.addItem(part)
        self.train_points: tuple[pg.ScatterPlotItem, ...] = ()
        self.test_points: tuple[pg.ScatterPlotItem, ...] = ()
        self._colours: tuple[QColor, ...] = ()
        self._set_colours(class_colours(2))
        self.empty = pg.TextItem("", anchor=(0.5, 0.5))
        item.addItem(self.empty, ignoreBounds=True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(pickers)
        layout.addWidget(self.plot, 1)

        self._columns: list[Any] = []
        self._range: tuple[float, float, float, float] | None = None
        self._axis_labels: tuple[str, str] | None = None
        self.column_box.currentIndexChanged.connect(self._column_changed)
        self.unit_a.currentIndexChanged.connect(self._emit_choice)
        self.unit_b.currentIndexChanged.connect(self._emit_choice)
        self.pca.toggled.connect(self._pca_toggled)
        self.plot.apply_palette()
        self.set_columns([])

    def _set_colours(self, colours: tuple[QColor, ...]) -> None:
        """One scatter per colour (a class, or a band of a regression's targets) and split,
        each with one pen and brush: moving the points is then a plain setData of positions
        (per-point brushes cost pyqtgraph ~4 ms a frame)."""
        if colours == self._colours:
            return
        item = self.plot.getPlotItem()
        for scatter in (*self.train_points, *self.test_points):
            item.removeItem(scatter)
        self._colours = colours
        outline = pg.mkPen(255, 255, 255, 220, width=0.8)
        self.train_points = tuple(
            pg.ScatterPlotItem(size=5, pxMode=True, pen=outline, brush=pg.mkBrush(colour))
            for colour in colours
        )
        # darker rings than the fills, as on the main plot
        self.test_points = tuple(
            pg.ScatterPlotItem(
                size=6, pxMode=True, pen=pg.mkPen(colour.darker(160), width=1.5), brush=None
            )
            for colour in colours
        )
        for scatter in (*self.train_points, *self.test_points):
            item.addItem(scatter)
        for scatter in self.test_points:
            scatter.setZValue(1)

    def _groups(self, labels: np.ndarray) -> np.ndarray:
        """Each point's scatter: its class, or for a regression's float targets one of
        REGRESSION_BANDS bands of their range (coloured on the regression map)."""
        if np.issubdtype(labels.dtype, np.integer):
            classes = max(2, int(labels.max()) + 1 if len(labels) else 2)
            self._set_colours(class_colours(classes))
            return labels.astype(np.int64)
        finite = labels[np.isfinite(labels)]
        top = float(np.abs(finite).max()) if len(finite) else 1.0
        low, high = (-top, top) if len(finite) and finite.min() < 0 else (0.0, max(top, 1e-6))
        bands = REGRESSION_BANDS
        centres = (np.arange(bands) + 0.5) / bands
        self._set_colours(tuple(REGRESSION_MAP.map(centres, mode=pg.ColorMap.QCOLOR)))
        values = np.nan_to_num(labels, nan=0.5 * (low + high))
        where = np.floor((values - low) / (high - low) * bands)
        return np.clip(where, 0, bands - 1).astype(np.int64)

    # -- choice ---------------------------------------------------------------------------

    def set_columns(self, columns: Sequence[Any]) -> None:
        """Offer ``columns`` (those with at least two units) and emit the choice made.

        The chosen column and units are kept if that column is offered again; otherwise the
        first hidden column (index >= 1) is chosen, with its units 0 and 1.
        """
        previous = self.choice()
        self._columns = [c for c in columns if c.units >= 2]
        with QSignalBlocker(self.column_box):
            self.column_box.clear()
            for column in self._columns:
                self.column_box.addItem(f"{column.index}: {column.title}", column.index)
        offered = [c.index for c in self._columns]
        hidden = [k for k, index in enumerate(offered) if index >= 1]
        if previous is not None and previous[0] in offered:
            row = offered.index(previous[0])
        else:
            row = hidden[0] if hidden else 0
            previous = None
        with QSignalBlocker(self.column_box):
            self.column_box.setCurrentIndex(row if offered else -1)
        self._fill_units(previous[1] if previous is not None else (0, 1))
        enabled = bool(self._columns)
        for widget in (self.column_box, self.pca):
            widget.setEnabled(enabled)
        if not enabled:
            self._show_message("No layer with two or more units to draw")
        self._emit_choice()

    def choice(self) -> tuple[int, tuple[int, int] | None] | None:
        """The chosen (column index, units or None for principal components); None if none."""
        row = self.column_box.currentIndex()
        if row < 0 or row >= len(self._columns):
            return None
        if self.pca.isChecked():
            return self._columns[row].index, None
        return self._columns[row].index, (self.unit_a.currentIndex(), self.unit_b.currentIndex())

    def _fill_units(self, units: tuple[int, int] | None) -> None:
        row = self.column_box.currentIndex()
        column = self._columns[row] if 0 <= row < len(self._columns) else None
        names = list(column.names) if column is not None else []
        if len(names) != (column.units if column is not None else 0):
            names = [str(k + 1) for k in range(column.units)] if column is not None else []
        a, b = units if units is not None else (0, 1)
        if not (0 <= a < len(names) and 0 <= b < len(names)):
            a, b = 0, min(1, len(names) - 1)
        for box, unit in ((self.unit_a, a), (self.unit_b, b)):
            with QSignalBlocker(box):
                box.clear()
                box.addItems(names)
                box.setCurrentIndex(unit if names else -1)
        self._enable_units()

    def _enable_units(self) -> None:
        on = bool(self._columns) and not self.pca.isChecked()
        self.unit_a.setEnabled(on)
        self.unit_b.setEnabled(on)

    def _column_changed(self, _row: int) -> None:
        self._fill_units((0, 1))
        self._emit_choice()

    def _pca_toggled(self, _on: bool) -> None:
        self._enable_units()
        self._emit_choice()

    def _emit_choice(self, *_: Any) -> None:
        choice = self.choice()
        if choice is not None:
            self.choiceChanged.emit(*choice)

    # -- drawing --------------------------------------------------------------------------

    def show(self, hidden: Any = None) -> None:  # type: ignore[override]
        """Draw a HiddenSpace: its points by class (test points as rings) and its warped grid.

        (QWidget.show is still there as ``setVisible(True)``; ``show()`` without an argument
        shows the widget as usual.)
        """
        if hidden is None:
            super().show()
            return
        points = np.asarray(hidden.points, dtype=np.float64)
        labels = np.asarray(hidden.labels).reshape(-1)
        is_test = np.asarray(hidden.is_test, dtype=bool).reshape(-1)
        if (
            points.ndim != 2
            or points.shape[1] != 2
            or not len(labels) == len(is_test) == len(points)
        ):
            raise ValueError(
                f"hidden space: points (n, 2), labels (n,) and is_test (n,) expected, got "
                f"{points.shape}, {labels.shape} and {is_test.shape}"
            )
        groups = self._groups(labels)
        for test, scatters in ((False, self.train_points), (True, self.test_points)):
            for group, scatter in enumerate(scatters):
                chosen = points[(is_test == test) & (groups == group)]
                scatter.setData(x=chosen[:, 0], y=chosen[:, 1])
        grid = np.asarray(hidden.grid, dtype=np.float64)
        for curve, family in ((self.grid_x1, grid[0]), (self.grid_x2, grid[1])):
            x, y, connect = polyline_arrays(family)
            curve.setData(x=x, y=y, connect=connect)
        labels_text = tuple(hidden.axis_labels)
        if labels_text != self._axis_labels:
            self._axis_labels = labels_text
            item = self.plot.getPlotItem()
            item.setLabel("bottom", labels_text[0])
            item.setLabel("left", labels_text[1])
            self.plot.apply_palette()
        self.empty.setText("")
        self._fit(points, grid)

    def _fit(self, points: np.ndarray, grid: np.ndarray) -> None:
        """Move the view to the finite data if it left the view or fills under a third of it."""
        xy = np.concatenate([points.reshape(-1, 2), grid.reshape(-1, 2)])
        xy = xy[np.isfinite(xy).all(axis=1)]
        if not len(xy):
            return
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        if self._range is not None:
            a0, a1, b0, b1 = self._range
            inside = a0 <= x0 and x1 <= a1 and b0 <= y0 and y1 <= b1
            big = (x1 - x0) > (a1 - a0) / 3 or (y1 - y0) > (b1 - b0) / 3
            if inside and big:
                return
        pad_x = max(0.08 * (x1 - x0), 1e-6)
        pad_y = max(0.08 * (y1 - y0), 1e-6)
        self._range = (x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y)
        self.plot.getPlotItem().setRange(xRange=self._range[:2], yRange=self._range[2:], padding=0)

    def clear(self) -> None:
        """Empty the plot (no model yet); the pickers stay."""
        for scatter in (*self.train_points, *self.test_points):
            scatter.setData(x=[], y=[])
        for curve in (self.grid_x1, self.grid_x2):
            curve.setData(x=[], y=[])
        self._range = None

    def _show_message(self, text: str) -> None:
        self.clear()
        self.empty.setColor(self.palette().color(QPalette.ColorRole.PlaceholderText))
        self.empty.setText(text)
        self.empty.setPos(0, 0)
        self.plot.getPlotItem().setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)
