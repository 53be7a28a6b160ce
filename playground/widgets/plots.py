"""Live plots: the decision boundary over the data; loss, accuracy and gradient norms per epoch.

Following pyqtgraph's own speed examples: the heatmap is one ImageItem fed with fixed levels and
a fixed rect, the scatter data is set only when the dataset changes, pens and brushes are made
once, and the curves grow in preallocated arrays. A frame holds the GIL the training thread
needs, so what rarely changes (points, axes, legends) stays cached in pixmaps and the curves are
plain Qt path items. NaN or infinite values (a diverged run) are drawn as gaps or as the neutral
colour; they never reach pyqtgraph's autoscaling.

Backgrounds, axes and text take the palette's Base and Text colours, so the plots follow a light
or a dark system theme (and a palette change while running). The decision boundary takes clicks:
``clicked(x1, x2, modifiers)`` in data coordinates; the window decides what a click means.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QGraphicsPathItem,
    QHBoxLayout,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .colours import CLASS0, CLASS1, class_colours, class_image, value_colours

__all__ = ["AccuracyPlot", "DecisionBoundaryPlot", "LossPlot", "MetricHistory", "PlotsPanel"]

pg.setConfigOptions(antialias=True)

BOUNDARY_MAP = pg.ColorMap(
    [0.0, 0.5, 1.0],
    [(245, 190, 130), (240, 240, 240), (120, 175, 215)],
)
TEST_COLOUR = QColor(214, 39, 40)
RMSE_COLOUR = QColor(44, 160, 44)


def _draw_once(*items: QGraphicsItem) -> None:
    """Keep items that rarely change drawn in a pixmap, which Qt blits when they are exposed.

    A snapshot redraws the heatmap and the curves, and Qt repaints every item overlapping
    them: the 2,000 points, the axes (their ticks reach into the view), the legend. Cached,
    they cost a blit instead of pyqtgraph's Python paint code, holding the GIL the training
    thread needs, at every frame. ``update()`` (new data, a new palette) redraws the cache.
    """
    for item in items:
        item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


class _ThemedPlot(pg.PlotWidget):
    """A PlotWidget drawn in the palette's colours: Base behind, Text for axes and titles."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._theming = False

    def apply_palette(self) -> None:
        """Recolour background, axes, title and legend from the current palette."""
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        plot = self.getPlotItem()
        for name in ("left", "bottom", "right", "top"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
            if axis.label is not None:
                axis.label.setDefaultTextColor(text)
        plot.titleLabel.setAttr("color", text)
        if plot.titleLabel.text:
            plot.titleLabel.setText(plot.titleLabel.text)
        if plot.legend is not None:
            plot.legend.setLabelTextColor(text)
            for _, label in plot.legend.items:
                label.setAttr("color", text)
                label.setText(label.text)
        self.palette_changed(palette)
        if plot.legend is not None:
            for sample, _ in plot.legend.items:
                sample.update()  # it shows its curve's pen, which palette_changed may change

    def palette_changed(self, palette: QPalette) -> None:
        """Hook for subclasses: recolour their own items."""

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # pyqtgraph's constructor already changes the palette, before our attributes exist
        theming = self.__dict__.get("_theming", True)
        if event.type() == QEvent.Type.PaletteChange and not theming:
            self._theming = True  # setBackground can post another palette change
            try:
                self.apply_palette()
            finally:
                self._theming = False


class DecisionBoundaryPlot(_ThemedPlot):
    """The model's P(class 1) as a heatmap over the data domain, with the points on top.

    What it shows follows the data's task (``set_dataset``'s ``classes``): for two classes
    P(class 1) in orange and blue; for K > 2 each region in its most probable class's colour
    (colours.class_image), with a legend of the classes instead of the colour bar; for a
    regression (``classes`` 0) the predicted value on a diverging map with its colour bar,
    the points coloured by their targets on the same map.

    Training points are filled discs; test points are rings in their class colour. A left click
    emits ``clicked(x1, x2, modifiers)`` at the clicked data coordinates; moving the mouse over
    the data emits ``hovered((x1, x2))``, and ``hovered(None)`` when it leaves them.
    ``show_map(values, levels, title)`` shows another map (a hovered unit's) in the boundary's
    place until ``show_map(None)``.
    """

    clicked = Signal(float, float, object)
    hovered = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("decision_boundary")
        self.setToolTip(
            "Click to add a point of class 1 (blue), Shift+click for class 0 (orange), "
            "Ctrl+click to remove the nearest point. Adding or removing resets the weights."
        )
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.getViewBox().setMouseEnabled(x=False, y=False)  # clicks edit points, not the view
        plot.setLabel("bottom", "x₁")
        plot.setLabel("left", "x₂")
        plot.setAspectLocked(True)  # a disk should look like a disk
        plot.setContentsMargins(2, 10, 2, 2)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=(0, 1),
            colorMap=BOUNDARY_MAP,
            interactive=False,
            width=14,
            label="P(class 1)",
            colorMapMenu=False,
        )
        self.colorbar.axis.enableAutoSIPrefix(False)  # a unit's map: 0.9, not 900 x 0.001
        self.colorbar.setImageItem(self.image, insert_in=plot)
        # more than 256 colours: pyqtgraph then colours the grid itself and hands Qt a 32-bit
        # image, where with the colour bar's 256 it makes an indexed one, which Qt converts at
        # every paint (~1.4 ms of CPU a frame instead of ~0.3 ms)
        self.image.setLookupTable(BOUNDARY_MAP.getLookupTable(0.0, 1.0, 1024, alpha=False))
        self._brushes = (pg.mkBrush(CLASS0), pg.mkBrush(CLASS1))
        # darker rings than the fills, so test points stand out on their own class's colour
        self._ring_pens = (
            pg.mkPen(CLASS0.darker(150), width=1.5),
            pg.mkPen(CLASS1.darker(170), width=1.5),
        )
        self._outline = pg.mkPen(255, 255, 255, 220, width=0.8)
        self.train_points = pg.ScatterPlotItem(size=5, pxMode=True, name="train")
        self.test_points = pg.ScatterPlotItem(size=6, pxMode=True, name="test")
        self.test_points.setZValue(1)
        plot.addItem(self.train_points)
        plot.addItem(self.test_points)
        # the points change with the dataset, the heatmap under them at every snapshot
        _draw_once(self.train_points, self.test_points, plot.getAxis("bottom"))
        self._grid: np.ndarray | None = None
        self._rect = QRectF(0, 0, 1, 1)
        self._discretize = False
        self._points = 0
        self._note: pg.TextItem | None = None
        self._overlay: tuple[np.ndarray, tuple[float, float]] | None = None
        self._classes = 2
        self._levels = (0.0, 1.0)
        self.class_legend = pg.LegendItem(
            offset=(-6, 6),
            labelTextSize="8pt",
            brush=pg.mkBrush(255, 255, 255, 210),
            pen=pg.mkPen(160, 160, 160),
            labelTextColor=(30, 30, 30),
        )
        self.class_legend.setObjectName("class_legend")
        self.class_legend.setParentItem(plot.getViewBox())
        self.class_legend.setVisible(False)
        self._inside = False
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self.scene().sigMouseMoved.connect(self._on_scene_moved)
        self.apply_palette()

    def _on_scene_moved(self, pos: Any) -> None:
        view = self.getPlotItem().getViewBox()
        if view.sceneBoundingRect().contains(pos):
            point = view.mapSceneToView(pos)
            self._inside = True
            self.hovered.emit((point.x(), point.y()))
        elif self._inside:
            self._inside = False
            self.hovered.emit(None)

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        if self._inside:
            self._inside = False
            self.hovered.emit(None)

    def _on_scene_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        view = self.getPlotItem().getViewBox()
        pos = event.scenePos()
        if not view.sceneBoundingRect().contains(pos):
            return
        point = view.mapSceneToView(pos)
        event.accept()
        self.clicked.emit(point.x(), point.y(), event.modifiers())

    def pixel_size(self) -> float:
        """The width of one screen pixel in data units (for "near the click" distances)."""
        view = self.getPlotItem().getViewBox()
        width = view.width()
        x_range = view.viewRange()[0]
        return (x_range[1] - x_range[0]) / width if width > 0 else 0.0

    def set_dataset(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_test: np.ndarray,
        y_test: np.ndarray,
        domain: tuple[float, float, float, float],
        classes: int = 2,
        levels: tuple[float, float] | None = None,
    ) -> None:
        """Show a new set of points over ``domain`` (x_min, x_max, y_min, y_max).

        ``classes`` is how many classes the labels have, 0 for a regression, whose targets
        and predictions are coloured over ``levels`` (low, high; default -1 to 1).
        """
        x0, x1, y0, y1 = domain
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self._set_task(classes, levels)
        if classes == 0:
            brushes = [pg.mkBrush(c) for c in value_colours(y_train, self._levels)]
            pens = [pg.mkPen(c, width=1.5) for c in value_colours(y_test, self._levels)]
            test_brush, outline = None, self._outline
        else:
            fills, rings = self._class_brushes()
            brushes = [fills[int(c)] for c in y_train]
            pens = [rings[int(c)] for c in y_test]
            test_brush, outline = None, self._outline
        # thousands of points would cover the regions: smaller, the more there are (5 and 6
        # pixels up to 2,000, 2 and 3 for 20,000)
        scale = min(1.0, math.sqrt(2000 / max(1, len(x_train) + len(x_test))))
        train_size, test_size = max(2.0, 5 * scale), max(3.0, 6 * scale)
        self.train_points.setData(
            x=x_train[:, 0], y=x_train[:, 1], brush=brushes, pen=outline, size=train_size
        )
        self.test_points.setData(
            x=x_test[:, 0], y=x_test[:, 1], pen=pens, brush=test_brush, size=test_size
        )
        self._points = len(x_train) + len(x_test)
        self.getPlotItem().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        if self._grid is not None:
            self._show_grid()

    def set_note(self, text: str) -> None:
        """A line over the plot's top-left corner (e.g. that it shows a subset); "" hides it."""
        if self._note is None:
            self._note = pg.TextItem(anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 200))
            self._note.setParentItem(self.getPlotItem().getViewBox())  # fixed on screen
            self._note.setPos(4, 4)
            self._note.setZValue(20)
        self._note.setColor(QColor(40, 40, 40))
        self._note.setText(text)
        self._note.setVisible(bool(text))

    @property
    def note(self) -> str:
        """The line over the plot ("" when there is none)."""
        return self._note.toPlainText() if self._note is not None and self._note.isVisible() else ""

    def _class_brushes(self) -> tuple[list[Any], list[Any]]:
        """Fill brushes and test-ring pens, one per class."""
        if self._classes == 2:
            return list(self._brushes), list(self._ring_pens)
        colours = class_colours(self._classes)
        rings = [pg.mkPen(c.darker(160), width=1.5) for c in colours]
        return [pg.mkBrush(c) for c in colours], rings

    @property
    def classes(self) -> int:
        """How many classes the plot shows (0: a regression)."""
        return self._classes

    def _set_task(self, classes: int, levels: tuple[float, float] | None) -> None:
        """Colours for two classes, K classes or a regression (``classes`` 0)."""
        self._classes = classes
        self._levels = (levels or (-1.0, 1.0)) if classes == 0 else (0.0, 1.0)
        self.class_legend.clear()
        if classes > 2:
            for k, colour in enumerate(class_colours(classes)):
                sample = pg.ScatterPlotItem(symbol="s", size=10, brush=colour, pen=None)
                self.class_legend.addItem(sample, f"class {k}")
        self.class_legend.setVisible(classes > 2)
        self.colorbar.setVisible(classes <= 2 or self._overlay is not None)
        # a regression's heatmap in the same light colours as P(class 1): its points, in the
        # full colours of colours.REGRESSION_MAP, stand out on it
        self._use_levels(self._levels, self._title())
        tip = (
            "Click to add a point of target +1 (blue), Shift+click for -1 (orange)"
            if classes == 0
            else "Click to add a point of class 1, Shift+click for class 0"
        )
        self.setToolTip(
            f"{tip}, Ctrl+click to remove the nearest point. Adding or removing resets the "
            "weights."
        )

    def _title(self) -> str:
        return "predicted value" if self._classes == 0 else "P(class 1)"

    def _use_levels(self, levels: tuple[float, float], label: str) -> None:
        """Stretch the heatmap's colours over ``levels``, the colour bar labelled ``label``."""
        self.colorbar.setLevels(levels, update_items=False)
        self.colorbar.getAxis("left").setLabel(label)

    def set_grid(self, grid: np.ndarray) -> None:
        """Show P(class 1) on the grid (rows along x₂); NaN shows as the undecided colour."""
        self._grid = grid
        self._show_grid()

    def set_show_test(self, show: bool) -> None:
        """Show or hide the test points."""
        self.test_points.setVisible(show)

    def set_discretize(self, discretize: bool) -> None:
        """Colour each cell by its predicted class instead of the probability."""
        self._discretize = discretize
        if self._grid is not None:
            self._show_grid()

    def show_map(
        self,
        values: np.ndarray | None,
        levels: tuple[float, float] = (0.0, 1.0),
        title: str = "",
    ) -> None:
        """Show ``values`` (rows along x₂) over the domain in the boundary's colours from
        ``levels[0]`` (orange) to ``levels[1]`` (blue), titled; None shows the boundary again."""
        plot = self.getPlotItem()
        if values is None:
            if self._overlay is None:
                return
            self._overlay = None
            plot.setTitle(None)
            self._set_task(self._classes, self._levels)
            if self._grid is not None:
                self._show_grid()
            return
        self._overlay = (np.asarray(values, dtype=np.float32), levels)
        text = self.palette().color(QPalette.ColorRole.Text)
        plot.setTitle(title, size="10pt", color=text)
        self.colorbar.setVisible(True)
        self._use_levels(levels, "unit output")
        clean = np.nan_to_num(self._overlay[0], nan=0.5 * (levels[0] + levels[1]))
        self.image.setImage(clean, levels=levels, rect=self._rect, autoLevels=False)

    @property
    def showing_map(self) -> bool:
        """Whether another map (a hovered unit's) is shown in the boundary's place."""
        return self._overlay is not None

    def _show_grid(self) -> None:
        assert self._grid is not None
        if self._overlay is not None:
            return  # the hovered unit's map stays until the mouse leaves it
        if self._grid.ndim == 3:
            if self._grid.shape[0] != self._classes:
                return  # a snapshot of the previous data's classes: the next one will fit
            rgb = class_image(self._grid, discretize=self._discretize)
            self.image.setImage(rgb, levels=(0, 255), rect=self._rect, autoLevels=False)
            return
        if self._classes > 2:
            return
        low, high = self._levels
        middle = 0.5 * (low + high)
        grid = np.nan_to_num(self._grid.astype(np.float32), nan=middle, posinf=high, neginf=low)
        if self._discretize:
            grid = np.where(grid > middle, high, low).astype(np.float32)
        self.image.setImage(grid, levels=self._levels, rect=self._rect, autoLevels=False)


class MetricHistory:
    """Per-epoch metrics gathered from snapshots' history rows, in growing numpy arrays."""

    COLUMNS = (
        "epoch",
        "train_loss",
        "test_loss",
        "train_accuracy",
        "test_accuracy",
        "train_rmse",
        "test_rmse",
    )

    def __init__(self) -> None:
        self._data = {name: np.empty(1024) for name in self.COLUMNS}
        self.size = 0

    def clear(self) -> None:
        """Forget every epoch."""
        self.size = 0

    def add(self, rows: Any) -> None:
        """Take HistoryRows; rows starting before the end replace what was there (a reset)."""
        start = min(rows.start, self.size)
        end = start + len(rows)
        if end > len(self._data["epoch"]):
            capacity = max(end, 2 * len(self._data["epoch"]))
            for name, column in self._data.items():
                grown = np.empty(capacity)
                grown[: self.size] = column[: self.size]
                self._data[name] = grown
        for name in self.COLUMNS:
            values = np.asarray(getattr(rows, name), dtype=np.float64)
            column = self._data[name]
            if len(values) == len(rows):
                column[start:end] = values
            else:  # a metric the run does not record
                column[start:end] = np.nan
        self.size = end

    def column(self, name: str) -> np.ndarray:
        """A view of one column's values so far."""
        return self._data[name][: self.size]


def _drawable(values: np.ndarray, log: bool = False) -> np.ndarray:
    """The values to plot: NaN for a non-finite one; on a log axis, log10, NaN for one <= 0."""
    out = np.where(np.isfinite(values), values, np.nan)
    if log:
        out = np.log10(np.where(out > 0, out, np.nan))
    return out


def _peaks(x: np.ndarray, y: np.ndarray, runs: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y cut to the smallest and largest y of each of about ``runs`` runs of points.

    pyqtgraph's "peak" downsampling, so that a long run's curve stays cheap to draw and keeps
    its spikes; a run shows as a gap only if all its values are NaN.
    """
    size = len(x) // runs
    if size < 2:
        return x, y
    end = size * (len(x) // size)
    chunks = y[:end].reshape(-1, size)
    low, high = np.fmin.reduce(chunks, axis=1), np.fmax.reduce(chunks, axis=1)
    xs = np.concatenate([np.repeat(x[:end:size], 2), x[end:]])
    ys = np.concatenate([np.column_stack([low, high]).ravel(), y[end:]])
    return xs, ys


class _Curve(QGraphicsPathItem):
    """One curve as a Qt path item: Qt paints it and knows its bounds with no Python call.

    A PlotDataItem answers ~20 calls from Qt per frame in Python (bounds, paint, clipping,
    downsampling), each taking the GIL from the training thread; here Python builds the path
    once per snapshot. The pen has width 0, Qt's one-pixel cosmetic line, whose bounds are the
    path's own (for a wider pen Qt strokes the whole path to find them).
    """

    MAX_POINTS = 2000

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self.setPen(pen)

    @property
    def opts(self) -> dict[str, Any]:
        """What pyqtgraph's legend reads to draw this curve's sample."""
        return {"pen": self.pen(), "antialias": False}

    def set_data(self, x: np.ndarray, y: np.ndarray) -> None:
        """Draw y over x; NaN values are gaps."""
        x, y = _peaks(x, y, self.MAX_POINTS // 2)
        self.setPath(pg.arrayToQPath(x, y, connect="finite"))


def _thin_pen(colour: QColor, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    return pg.mkPen(colour, width=0, style=style)


class _CurvePlot(_ThemedPlot):
    """Train and test curves of one metric over the epochs."""

    def __init__(self, title: str, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setTitle(title, size="9pt")
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", unit)
        plot.getAxis("left").enableAutoSIPrefix(False)
        legend = plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        # thin, unsmoothed lines: Qt's fast path; a curve is redrawn at every snapshot (the
        # rest of these plots is text and straight lines, for which smoothing does nothing)
        self.setAntialiasing(False)
        self.train_curve = _Curve(_thin_pen(TEST_COLOUR))  # recoloured by apply_palette
        self.test_curve = _Curve(_thin_pen(TEST_COLOUR, Qt.PenStyle.DashLine))
        for curve, name in ((self.train_curve, "train"), (self.test_curve, "test")):
            plot.addItem(curve)
            legend.addItem(curve, name)
        # the axes move in steps (1, 2, 5 x 10^k), not with every epoch: re-laying out the
        # ticks at 30 Hz was most of the GUI thread's time while training
        plot.enableAutoRange(x=False)
        _draw_once(plot.getAxis("left"), plot.getAxis("bottom"), legend)
        _draw_once(*(part for entry in legend.items for part in entry))
        self._x_top = 0.0
        self.setMinimumHeight(140)
        self.apply_palette()
        self._set_x_top(10.0)

    def palette_changed(self, palette: QPalette) -> None:
        # the training curve in the text colour: dark on a light theme, light on a dark one
        self.train_curve.setPen(_thin_pen(palette.color(QPalette.ColorRole.Text)))

    def _set_x_top(self, top: float) -> None:
        if top != self._x_top:
            self._x_top = top
            self.getPlotItem().setXRange(0, top, padding=0.02)

    def _set(
        self, epochs: np.ndarray, train: np.ndarray, test: np.ndarray, log: bool = False
    ) -> None:
        train, test = _drawable(train, log), _drawable(test, log)
        if len(epochs) and not np.isfinite(train).any() and not np.isfinite(test).any():
            epochs, train, test = epochs[:0], train[:0], test[:0]  # nothing drawable yet
        last = float(epochs[-1]) if len(epochs) else 0.0
        if last > self._x_top or last < self._x_top / 5:
            self._set_x_top(nice_ceiling(max(10.0, 1.25 * last)))
        view = self.getPlotItem().getViewBox()
        for curve, values in ((self.train_curve, train), (self.test_curve, test)):
            curve.set_data(epochs, values)
            view.itemBoundsChanged(curve)  # an auto-ranged axis (the log one) follows
        self.fit_y(train, test)

    def fit_y(self, train: np.ndarray, test: np.ndarray) -> None:
        """Adjust the y range to the values (subclasses; the default keeps it)."""


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


class LossPlot(_CurvePlot):
    """Training and test loss per epoch, optionally on a log scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Loss", "loss", parent)
        self.setObjectName("loss_plot")
        self._log = False
        self._y_top = 0.0
        self.getPlotItem().enableAutoRange(y=False)

    def set_log_scale(self, log: bool) -> None:
        """Use a logarithmic loss axis (which follows the data; the linear one moves in steps)."""
        self._log = log
        plot = self.getPlotItem()
        plot.setLogMode(y=log)
        plot.enableAutoRange(y=log)
        self._y_top = 0.0

    def fit_y(self, train: np.ndarray, test: np.ndarray) -> None:
        """From 0 to a step above the largest loss; a new step only when the curves need it."""
        if self._log:
            return
        values = np.concatenate([train, test])
        values = values[np.isfinite(values)]
        if not len(values):
            return
        peak = float(values.max())
        if peak > self._y_top or peak < self._y_top / 4:
            self._y_top = nice_ceiling(max(peak * 1.1, 1e-6))
            self.getPlotItem().setYRange(0, self._y_top, padding=0.02)

    def show_history(self, history: MetricHistory) -> None:
        """Draw the curves from ``history``."""
        self._set(
            history.column("epoch"),
            history.column("train_loss"),
            history.column("test_loss"),
            log=self._log,
        )


class AccuracyPlot(_CurvePlot):
    """Training and test accuracy per epoch, 0 to 1; for a regression R² and the RMSE.

    A regression's R² (1 is a perfect fit, below 0 worse than predicting the mean) shares
    the axis with the root mean squared error, drawn in RMSE_COLOUR (train solid, test
    dashed); the axis runs from 0 to 1, or to a step above the largest RMSE.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Accuracy", "accuracy", parent)
        self.setObjectName("accuracy_plot")
        self.getPlotItem().setYRange(0.4, 1.0, padding=0.02)
        self.getPlotItem().enableAutoRange(axis="y", enable=False)
        self.train_rmse_curve = _Curve(_thin_pen(RMSE_COLOUR))
        self.test_rmse_curve = _Curve(_thin_pen(RMSE_COLOUR, Qt.PenStyle.DashLine))
        for curve in (self.train_rmse_curve, self.test_rmse_curve):
            curve.setVisible(False)
            self.getPlotItem().addItem(curve)
        self.regression = False
        self._y_top = 1.0

    def set_task(self, classes: int) -> None:
        """Show R² and RMSE (``classes`` 0: a regression) or the accuracy of ``classes``
        classes (from 0.4 for two, from 0 for more: chance is 1/K)."""
        regression = classes == 0
        bottom = 0.4 if classes == 2 else 0.0
        if regression == self.regression:
            if not regression:
                self.getPlotItem().setYRange(bottom, 1.0, padding=0.02)
            return
        self.regression = regression
        plot = self.getPlotItem()
        plot.setTitle("R² and RMSE" if regression else "Accuracy", size="9pt")
        plot.setLabel("left", "R², RMSE" if regression else "accuracy")
        legend = plot.legend
        names = ("train R²", "test R²") if regression else ("train", "test")
        for curve in (self.train_curve, self.test_curve):
            legend.removeItem(curve)
        for curve in (self.train_rmse_curve, self.test_rmse_curve):
            legend.removeItem(curve)
            curve.setVisible(regression)
        for curve, name in zip((self.train_curve, self.test_curve), names, strict=True):
            legend.addItem(curve, name)
        if regression:
            legend.addItem(self.train_rmse_curve, "train RMSE")
            legend.addItem(self.test_rmse_curve, "test RMSE")
        _draw_once(*(part for entry in legend.items for part in entry))
        self._y_top = 1.0
        plot.setYRange(bottom, 1.0, padding=0.02)
        self.apply_palette()

    def show_history(self, history: MetricHistory) -> None:
        """Draw the curves from ``history``."""
        epochs = history.column("epoch")
        self._set(epochs, history.column("train_accuracy"), history.column("test_accuracy"))
        if not self.regression:
            return
        train, test = (_drawable(history.column(n)) for n in ("train_rmse", "test_rmse"))
        self.train_rmse_curve.set_data(epochs, train)
        self.test_rmse_curve.set_data(epochs, test)
        values = np.concatenate([train, test])
        values = values[np.isfinite(values)]
        top = nice_ceiling(max(1.0, float(values.max()) * 1.1)) if len(values) else 1.0
        if top != self._y_top:
            self._y_top = top
            self.getPlotItem().setYRange(0.0, top, padding=0.02)


class PlotsPanel(QWidget):
    """The decision boundary above the loss and accuracy curves, with the view toggles.

    The toggles are checkable actions (``show_test_action``, ``discretize_action``,
    ``log_scale_action``) so the View menu and the check boxes here stay one and the same.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boundary = DecisionBoundaryPlot(self)
        self.loss = LossPlot(self)
        self.accuracy = AccuracyPlot(self)
        self.history = MetricHistory()
        from .gradient_plot import GradientPlot  # it draws with this module's curves

        self.gradients = GradientPlot(self)

        self.show_test_action = self._toggle(
            "show_test", "Show &test data", True, "Draw the test points (rings)"
        )
        self.discretize_action = self._toggle(
            "discretize", "&Discretize output", False, "Colour by predicted class, not probability"
        )
        self.log_scale_action = self._toggle(
            "log_scale", "&Log-scale loss", False, "Logarithmic loss axis"
        )
        self.show_test_action.toggled.connect(self.boundary.set_show_test)
        self.discretize_action.toggled.connect(self.boundary.set_discretize)
        self.log_scale_action.toggled.connect(self._set_log_scale)

        toggles = QHBoxLayout()
        for action in (self.show_test_action, self.discretize_action, self.log_scale_action):
            toggles.addWidget(self._checkbox(action))
        toggles.addStretch(1)
        curves = QWidget(self)
        row = QHBoxLayout(curves)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.loss)
        row.addWidget(self.accuracy)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("curve_tabs")
        self.tabs.setUsesScrollButtons(False)  # two short tabs: they always fit
        self.tabs.addTab(curves, "Loss && Accuracy")
        self.tabs.addTab(self.gradients, "Gradients")
        self.tabs.setTabToolTip(0, "Training and test loss and accuracy per epoch")
        self.tabs.setTabToolTip(
            1, "Per Linear layer: the norm of its weight gradient and of its weights per epoch"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.boundary, 5)
        layout.addLayout(toggles)
        layout.addWidget(self.tabs, 2)

    def _toggle(self, name: str, text: str, checked: bool, tip: str) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setCheckable(True)
        action.setChecked(checked)
        action.setToolTip(tip)
        return action

    def _checkbox(self, action: QAction) -> QCheckBox:
        box = QCheckBox(action.text(), self)
        box.setObjectName(f"{action.objectName()}_box")
        box.setToolTip(action.toolTip())
        box.setChecked(action.isChecked())
        box.toggled.connect(action.setChecked)
        action.toggled.connect(box.setChecked)
        return box

    def picture(self) -> QPixmap:
        """The three plots as one picture, as they are on screen (File > Export Plot…)."""
        return self.grab()

    def _set_log_scale(self, log: bool) -> None:
        self.loss.set_log_scale(log)
        self.loss.show_history(self.history)

    def set_dataset(self, arrays: Any) -> None:
        """Show a new dataset (DataArrays): at most MAX_SHOWN of its points, saying so, and
        the colours and metrics its task (two classes, K classes, a regression) asks for."""
        from ..session import MAX_SHOWN

        shown = arrays.shown(MAX_SHOWN)
        self.boundary.set_dataset(
            shown.x_train,
            shown.y_train,
            shown.x_test,
            shown.y_test,
            shown.domain,
            arrays.classes,
            arrays.value_range() if arrays.is_regression else None,
        )
        shown_note = f"showing {len(shown):,} of {len(arrays):,} points"
        self.boundary.set_note(shown_note if len(shown) < len(arrays) else "")
        self.accuracy.set_task(arrays.classes)
        self.tabs.setTabText(0, "Loss && R²" if arrays.is_regression else "Loss && Accuracy")

    def clear_history(self) -> None:
        """Forget the curves (a new run)."""
        self.history.clear()
        self.loss.show_history(self.history)
        self.accuracy.show_history(self.history)
        self.gradients.clear()

    def show_snapshot(self, snap: Any) -> None:
        """Draw a Snapshot: the boundary if it carries a grid, the new epochs on the curves."""
        if snap.grid is not None:
            self.boundary.set_grid(snap.grid)
        if len(snap.history) or snap.history.start < self.history.size:
            self.history.add(snap.history)
            self.loss.show_history(self.history)
            self.accuracy.show_history(self.history)
            rows, layers = snap.history, len(self.gradients.labels)
            if len(rows) and layers and rows.grad_norms.shape == (len(rows), layers):
                self.gradients.append(rows.epoch, rows.grad_norms, rows.weight_norms)
