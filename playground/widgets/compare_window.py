"""Training > Compare…: variants of the experiment trained side by side, one tile each.

The learner picks what varies (learning rate, L2, seed, initialisation) and its values, or edits
the variants' table directly (up to 16 rows). Play trains them all as one stacked model in a
worker process of the window's own (``playground.compare.CompareSession`` under the app's usual
``TrainingController``): small multiples of their decision boundaries update live, their loss
curves share one plot with a legend. A click on a tile makes that variant the main model: its
settings and trained weights go into the main window's experiment as one undoable step. A
variant that diverges is frozen and marked on its tile; the others train on.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QImage,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QTransform,
    QUndoCommand,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..compare import (
    INITS,
    MAX_VARIANTS,
    PARAMETERS,
    CompareError,
    Variant,
    check_variants,
    parse_value,
    parse_values,
    tile_image,
    variants_varying,
)
from .colours import class_colours, class_image, value_colours
from .plots import (
    BOUNDARY_MAP,
    _Curve,
    _draw_once,
    _ThemedPlot,
    nice_ceiling,
)
from .side_window import SideWindow

__all__ = ["CompareWindow", "VARIANT_COLOURS"]

VARIANT_COLOURS = [
    QColor(c)
    for c in ("#332288", "#CC6677", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933",
              "#AA4499")
]
"""Paul Tol's "muted" qualitative colours (without its pale sand), told apart by readers with
any common colour-vision deficiency. Variants 9 to 16 take them again with dashed lines; every
tile and legend entry also carries the variant's number."""

DIVERGED_COLOUR = QColor("#888888")

DEFAULT_VALUES = {
    "learning_rate": "0.003, 0.01, 0.03, 0.1, 0.3",
    "weight_decay": "0, 0.0001, 0.001, 0.01",
    "seed": "0, 1, 2, 3",
    "init": "Xavier, PyTorch, Zeros",
}
_COLUMNS = ("learning_rate", "weight_decay", "seed", "init")
_LUT = np.ascontiguousarray(BOUNDARY_MAP.getLookupTable(0.0, 1.0, 256, alpha=False), np.uint8)
MAX_TILE_POINTS = 2000
"""A tile draws at most this many of the training points (a random subset, as the main plot)."""
CURVE_INTERVAL_MS = 100
"""The loss curves are redrawn at most this often (10 Hz), whatever the snapshot rate."""
CAPTION_INTERVAL_MS = 500
"""The tiles' accuracy and loss captions change at most this often (each change re-lays out
the grid of tiles)."""


def fine_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is >= ``value`` (> 0):
    an axis top that moves in steps yet leaves at most a quarter of the plot empty."""
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


def variant_colour(k: int) -> QColor:
    """Variant k's colour (its tile's frame, its loss curve)."""
    return VARIANT_COLOURS[k % len(VARIANT_COLOURS)]


def variant_style(k: int) -> Qt.PenStyle:
    """Variant k's line style: solid for the first eight, dashed for the next eight."""
    return Qt.PenStyle.SolidLine if k < len(VARIANT_COLOURS) else Qt.PenStyle.DashLine


class _VariantCurve(_Curve):
    """A variant's loss curve, two pixels thick so that each colour reads on the light
    background: its one-pixel path drawn twice, a pixel apart.

    Qt draws a one-pixel cosmetic line on its fast path; a 2 px pen goes through its stroker,
    which took 18 ms a frame for 16 curves of 600 points (the window's whole budget), against
    ~1 ms for one pixel. The bounds are the path's rectangle and two pixels (``pixel``, the
    view's units per pixel, given with the data), not Qt's stroke of the path.
    """

    MAX_POINTS = 1000
    """Points a curve keeps (its peaks): the plot is a few hundred pixels wide."""

    def __init__(self, pen: QPen) -> None:
        super().__init__(pen)
        self._bounds = QRectF()

    def set_data(
        self, x: np.ndarray, y: np.ndarray, pixel: tuple[float, float] = (0.0, 0.0)
    ) -> None:
        """Draw y over x (NaN values are gaps) in a view of ``pixel`` units per pixel."""
        self.prepareGeometryChange()
        super().set_data(x, y)
        px, py = pixel
        self._bounds = self.path().controlPointRect().adjusted(-2 * px, -2 * py, 2 * px, 2 * py)

    def boundingRect(self) -> QRectF:
        """The path's rectangle with room for the second line."""
        return self._bounds

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        """The path, and again one device pixel lower."""
        painter.setPen(self.pen())
        painter.drawPath(self.path())
        painter.setWorldTransform(painter.worldTransform() * QTransform.fromTranslate(0, 1))
        painter.drawPath(self.path())


def _curve_pen(k: int) -> QPen:
    pen = QPen(variant_colour(k), 0, variant_style(k))  # 0: cosmetic, one pixel
    pen.setCosmetic(True)
    return pen


class _Throttle(QObject):
    """Calls ``action`` at once, then at most every ``ms`` milliseconds; a call asked for in
    between happens when the interval ends (the last state is always drawn)."""

    def __init__(self, ms: int, action: Any, parent: QObject) -> None:
        super().__init__(parent)
        self._action = action
        self._pending = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(ms)
        self._timer.timeout.connect(self._on_timeout)

    def request(self) -> None:
        """Run the action now, or when the interval since the last run ends."""
        if self._timer.isActive():
            self._pending = True
            return
        self._pending = False
        self._action()
        self._timer.start()

    def flush(self) -> None:
        """Run a pending action now."""
        if self._pending:
            self._timer.stop()
            self._pending = False
            self._action()

    @Slot()
    def _on_timeout(self) -> None:
        if self._pending:
            self._pending = False
            self._action()
            self._timer.start()


POINTS_PIXELS = 640
"""The side of the picture of the training points that every tile shows scaled down."""


def _points_picture(arrays: Any, radius: float, levels: tuple[float, float]) -> QPixmap:
    """The training points of ``arrays`` as discs of ``radius`` (data units), drawn once,
    antialiased, into a picture that covers the domain: each class in its colour with a
    darker rim (a point stays visible on its own class's region), a regression's points in
    their target's colour over ``levels``.

    One picture serves every tile (as one item each): drawing 750 antialiased discs twice per
    tile into the tiles' caches took 50 ms at the first frame with 16 tiles.
    """
    x0, x1, y0, y1 = arrays.domain
    size = POINTS_PIXELS
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    r = radius / (x1 - x0) * size

    def centre(x: float, y: float) -> QPointF:
        return QPointF((x - x0) / (x1 - x0) * size, (y1 - y) / (y1 - y0) * size)

    if arrays.is_regression:
        painter.setPen(Qt.PenStyle.NoPen)
        colours = value_colours(arrays.y_train, levels)
        for (x, y), colour in zip(arrays.x_train.tolist(), colours, strict=True):
            painter.setBrush(colour)
            painter.drawEllipse(centre(x, y), r, r)
    else:
        for c, colour in enumerate(class_colours(max(arrays.classes, 2))):
            painter.setPen(QPen(colour.darker(170), 0.25 * r))
            painter.setBrush(colour)
            for x, y in arrays.x_train[arrays.y_train == c].tolist():
                painter.drawEllipse(centre(x, y), r, r)
    painter.end()
    return QPixmap.fromImage(image)


def _points_item(picture: QPixmap, domain: tuple[float, float, float, float]) -> Any:
    """An item showing ``picture`` over ``domain`` (its top row at the domain's top)."""
    x0, x1, y0, y1 = domain
    item = QGraphicsPixmapItem(picture)
    item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
    size = picture.width()
    item.setTransform(
        QTransform.fromTranslate(x0, y1).scale((x1 - x0) / size, -(y1 - y0) / size)
    )
    return item


class _Frame(QGraphicsRectItem):
    """The coloured frame around a tile's data, drawn in screen pixels (cosmetic)."""

    def boundingRect(self) -> QRectF:
        """The data's rectangle: Qt would add half the pen's 3 px in data units (a tile's
        whole width and more on the disk's unit square), and repaint the neighbours with it."""
        return self.rect()

    def set_style(self, colour: QColor, style: Qt.PenStyle) -> None:
        """Frame the tile in ``colour`` and ``style``."""
        pen = QPen(colour, 3, style)
        pen.setCosmetic(True)
        self.setPen(pen)


class _MetricRows:
    """Every variant's per-epoch metrics gathered from CompareRows, in growing arrays."""

    def __init__(self, models: int) -> None:
        self.models = models
        self.epoch = np.empty(1024)
        self.values = {name: np.empty((models, 1024)) for name in ("train_loss", "test_loss")}
        self.size = 0

    def add(self, rows: Any) -> None:
        """Take CompareRows; rows starting before the end replace what was there."""
        start = min(rows.start, self.size)
        end = start + len(rows)
        if end > len(self.epoch):
            capacity = max(end, 2 * len(self.epoch))
            grown = np.empty(capacity)
            grown[: self.size] = self.epoch[: self.size]
            self.epoch = grown
            for name, values in self.values.items():
                bigger = np.empty((self.models, capacity))
                bigger[:, : self.size] = values[:, : self.size]
                self.values[name] = bigger
        self.epoch[start:end] = rows.epoch
        for name, values in self.values.items():
            values[:, start:end] = getattr(rows, name)
        self.size = end

    def column(self, name: str, k: int) -> np.ndarray:
        """Variant k's values of ``name`` so far."""
        return self.values[name][k, : self.size]


class VariantTiles(pg.GraphicsLayoutWidget):
    """Small multiples: each variant's decision boundary in a tile framed in its colour, its
    number, name and test metrics above; a click on a tile emits ``clicked(k)``.

    Made for speed at 16 tiles: the points are one picture drawn once and shown by every tile
    (a Qt item: no Python call per frame), the grids come from the worker as bytes and become
    RGB through a 256-entry table in one numpy step, the captions change at most twice a
    second.
    """

    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compare_tiles")
        self.setToolTip("Click a tile to make that variant the main window's model")
        self.labels: list[Any] = []
        self.views: list[pg.ViewBox] = []
        self.images: list[pg.ImageItem] = []
        self.notes: list[pg.TextItem] = []
        self.frames: list[_Frame] = []
        self._rect = QRectF(0, 0, 1, 1)
        self._levels = (0.0, 1.0)  # the colour map's range: (0, 1) but for a regression
        self.text_colour = QColor(0, 0, 0)
        self.dim_colour = QColor(90, 90, 90)
        self._key: tuple | None = None
        self._making: tuple = (None, None, None)
        self._columns = 1
        self._names: list[str] = []
        self._metrics: list[str] = []
        self.ci.setSpacing(6)
        # the boundaries smoothed as they are scaled up (48 x 48 to the tile), like the main
        # window's; no antialiasing: the frames are straight, the points a picture of their own
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_variants(self, names: list[str], arrays: Any) -> None:
        """One tile per variant name, over the training points of ``arrays`` (DataArrays);
        the tiles of the last call are kept (renamed) when the count and the points are alike.

        New tiles are made TILES_AT_ONCE at a time, TILE_PAUSE_MS apart, so
        that making 16 never holds the window more than a few milliseconds at once.
        """
        levels = arrays.value_range() if arrays.is_regression else (0.0, 1.0)
        arrays = arrays.shown(MAX_TILE_POINTS)  # a tile is small: a subset shows the data
        key = (len(names), arrays.domain, arrays.x_train.tobytes(), arrays.y_train.tobytes(),
               levels)
        self._names = list(names)
        self._metrics = [""] * len(names)
        if key == self._key:
            for k in range(len(self.views)):
                self._show_caption(k)
                self.set_note(k, "")
                self.images[k].clear()
            return
        self._key = key
        self.clear()
        self.labels, self.views, self.images, self.notes, self.frames = [], [], [], [], []
        x0, x1, y0, y1 = arrays.domain
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self._columns = self._best_columns(len(names))
        radius = 0.0065 * max(x1 - x0, y1 - y0)
        self._levels = levels
        self._making = (key, _points_picture(arrays, radius, levels), arrays.domain)
        QTimer.singleShot(self.TILE_PAUSE_MS, self._make_tiles)  # Play returns first

    TILES_AT_ONCE = 3
    TILE_PAUSE_MS = 15
    """Between two batches of new tiles the window is idle this long: input, timers and the
    paint of what was made get their turn."""

    @property
    def complete(self) -> bool:
        """Whether every tile of the last ``set_variants`` has been made."""
        return len(self.views) == len(self._names)

    def _make_tiles(self) -> None:
        """Make the next TILES_AT_ONCE tiles; the rest TILE_PAUSE_MS later."""
        key, picture, domain = self._making
        if key != self._key:  # set_variants was called again meanwhile
            return
        x0, x1, y0, y1 = domain
        bottom, top = Qt.AlignmentFlag.AlignBottom, Qt.AlignmentFlag.AlignTop
        centre = Qt.AlignmentFlag.AlignHCenter
        start = len(self.views)
        for k in range(start, min(start + self.TILES_AT_ONCE, len(self._names))):
            row, col = divmod(k, self._columns)
            label = self.addLabel("", row=2 * row, col=col, size="8pt", color=self.text_colour)
            label.setMaximumHeight(self.CAPTION)  # two lines; the rest of the row is the tile's
            self.ci.layout.setAlignment(label, bottom | centre)
            view = self.addViewBox(
                row=2 * row + 1, col=col, lockAspect=True, enableMouse=False, enableMenu=False
            )
            image = pg.ImageItem(axisOrder="row-major")
            view.addItem(image)
            points = _points_item(picture, domain)
            points.setZValue(2)
            view.addItem(points)
            _draw_once(points)
            frame = _Frame(self._rect)
            frame.set_style(variant_colour(k), variant_style(k))
            frame.setZValue(3)
            view.addItem(frame)
            note = pg.TextItem("", color=(160, 0, 0), anchor=(0.5, 0.5), fill=(255, 255, 255, 220))
            note.setPos((x0 + x1) / 2, (y0 + y1) / 2)
            note.setZValue(5)
            note.setVisible(False)
            view.addItem(note)
            view.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)
            self.ci.layout.setAlignment(view, top | centre)
            self.labels.append(label)
            self.views.append(view)
            self.images.append(image)
            self.notes.append(note)
            self.frames.append(frame)
            self._show_caption(k)
        self._fit_tiles()
        if not self.complete:
            QTimer.singleShot(self.TILE_PAUSE_MS, self._make_tiles)

    CAPTION = 34
    """Pixels of a tile's two-line caption."""

    def _best_columns(self, count: int) -> int:
        """The number of columns that gives ``count`` square tiles the most room here."""
        width, height = max(self.width(), 100), max(self.height(), 100)

        def side(columns: int) -> float:
            rows = math.ceil(count / columns)
            return min(width / columns, height / rows - self.CAPTION)

        return max(range(1, max(count, 1) + 1), key=side)

    def _fit_tiles(self) -> None:
        """Every tile square and as big as the window allows, the grid of them centred: the
        margins take what the squares leave over (a view locked to the data's aspect would
        otherwise float in a tall cell, far from its caption)."""
        if not self.__dict__.get("views"):  # also called from pyqtgraph's constructor
            return
        columns = self._columns
        rows = math.ceil(len(self._names) / columns)
        gap = self.ci.layout.horizontalSpacing()
        width, height = self.width() - 8, self.height() - 8
        side = max(40.0, min((width - gap * (columns - 1)) / columns,
                             (height - rows * (self.CAPTION + gap)) / rows))
        across = columns * side + gap * (columns - 1)
        down = rows * (side + self.CAPTION + gap)
        dx, dy = max(4.0, (width - across) / 2), max(4.0, (height - down) / 2)
        self.ci.setContentsMargins(dx, dy, dx, dy)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_tiles()

    def set_grids(self, grids: np.ndarray) -> None:
        """Each tile's grid, rows along x₂, in the main plot's colours: P(class 1) or a
        regression's value (M, n, n), or K class probabilities (M, K, n, n) as class regions."""
        if grids.ndim == 4:
            colours = np.stack([class_image(grid) for grid in grids])
        else:
            low, high = self._levels
            scaled = (np.asarray(grids, dtype=np.float32) - low) / ((high - low) or 1.0)
            colours = _LUT[tile_image(scaled)]  # (M, n, n, 3) RGB: no colour table for Qt
        for image, rgb in zip(self.images, colours, strict=False):
            image.setImage(rgb, autoLevels=False, rect=self._rect)

    def set_metrics(self, k: int, text: str) -> None:
        """The metrics line under tile k's name (shown at the next ``show_captions``)."""
        if k < len(self._metrics):
            self._metrics[k] = text

    def show_captions(self) -> None:
        """Put the metrics of ``set_metrics`` into the captions that changed."""
        for k in range(len(self.labels)):
            self._show_caption(k)

    def _show_caption(self, k: int) -> None:
        name = html.escape(self._names[k])
        colour = variant_colour(k).name()
        metrics = self._metrics[k] or "&nbsp;"
        text = (
            f'<span style="color:{colour}; font-weight:bold">{k + 1}</span>&nbsp; {name}<br>'
            f'<span style="color:{self.dim_colour.name()}">{metrics}</span>'
        )
        if self.labels[k].text != text:
            self.labels[k].setText(text, size="8pt", color=self.text_colour)

    def caption(self, k: int) -> str:
        """Tile k's caption as plain text (its name, then its metrics)."""
        return f"{k + 1} {self._names[k]} {self._metrics[k]}".strip()

    def set_note(self, k: int, text: str) -> None:
        """A note across tile k (its divergence), "" for none; a diverged tile's frame is grey."""
        if k >= len(self.notes):  # not made yet: the next snapshot says it again
            return
        if self.notes[k].toPlainText() == text and self.notes[k].isVisible() == bool(text):
            return
        self.notes[k].setText(text)
        self.notes[k].setVisible(bool(text))
        if text:
            self.frames[k].set_style(DIVERGED_COLOUR, Qt.PenStyle.DotLine)
        else:
            self.frames[k].set_style(variant_colour(k), variant_style(k))

    def tile_at(self, scene_pos: Any) -> int | None:
        """The tile under a scene position, or None."""
        for k, view in enumerate(self.views):
            if view.sceneBoundingRect().contains(scene_pos):
                return k
        return None

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        k = self.tile_at(event.scenePos())
        if k is not None:
            event.accept()
            self.clicked.emit(k)


class _AdoptVariant(QUndoCommand):
    """A Compare variant made the main model: its settings and weights; undo puts back the
    experiment and the weights the main window had."""

    def __init__(self, window: Any, experiment: Any, weights: Any, text: str) -> None:
        super().__init__(text)
        self._window = window
        self._new = (experiment, weights)
        self._old = (window.experiment, window.current_weights())

    def redo(self) -> None:
        experiment, weights = self._new
        self._window.adopt_model(experiment, weights, f"{self.text()}: it is the main model now.")

    def undo(self) -> None:
        experiment, weights = self._old
        self._window.adopt_model(experiment, weights, f"Undone: {self.text().lower()}.")


class CompareWindow(SideWindow):
    """The Compare window of a main window (``main``), with its own training process."""

    def __init__(self, main: Any) -> None:
        super().__init__(main, "compare", "Compare")
        self.rows: _MetricRows | None = None
        self.last_snapshot: Any = None
        self._names: list[str] = []
        self._metric = "acc"  # what the captions call the test metric: "R²" for a regression
        self._dirty = True  # the table changed since the run was made
        self._run_experiment: Any = None
        self._loss_name = "test_loss"

        self.parameter = QComboBox(self)
        self.parameter.setObjectName("compare_parameter")
        for key, title in PARAMETERS.items():
            self.parameter.addItem(title, key)
        self.parameter.setToolTip("The setting that differs between the variants")
        self.values = QLineEdit(DEFAULT_VALUES["learning_rate"], self)
        self.values.setObjectName("compare_values")
        self.values.setToolTip(
            f"Up to {MAX_VARIANTS} values, separated by commas; the other settings are the "
            "main window's"
        )
        self.make_button = QPushButton("Make variants", self)
        self.make_button.setObjectName("compare_make")
        self.make_button.setToolTip("Fill the table with one variant per value")
        self.table = QTableWidget(0, len(_COLUMNS), self)
        self.table.setObjectName("compare_table")
        self.table.setHorizontalHeaderLabels([PARAMETERS[c] for c in _COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setToolTip("Each row is a variant; double-click a value to edit it")
        self.add_button = QPushButton("Add", self)
        self.add_button.setObjectName("compare_add")
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setObjectName("compare_remove")
        self.play_button = QPushButton("Play", self)
        self.play_button.setObjectName("compare_play")
        self.play_button.setToolTip("Train every variant together; again to pause")
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setObjectName("compare_stop")
        self.stop_button.setToolTip("End this run; Play then starts the variants afresh")
        self.progress = QLabel("", self)
        self.progress.setObjectName("compare_progress")
        self.tiles = VariantTiles(self)
        self.loss_plot = _ThemedPlot(self)
        self.loss_plot.setObjectName("compare_loss")
        self.loss_plot.setAntialiasing(False)  # thin unsmoothed curves: Qt's fast path
        plot = self.loss_plot.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", "test loss")
        plot.setTitle("Loss of each variant", size="9pt")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.enableAutoRange(x=False, y=False)
        self.legend = plot.addLegend(
            offset=(-10, 10), labelTextSize="8pt", colCount=2
        )  # its colours: _apply_palette
        self.curves: list[_Curve] = []
        self._ranges = (0.0, 0.0)
        self._curve_throttle = _Throttle(CURVE_INTERVAL_MS, self._draw_curves, self)
        self._caption_throttle = _Throttle(CAPTION_INTERVAL_MS, self.tiles.show_captions, self)
        _draw_once(plot.getAxis("left"), plot.getAxis("bottom"), self.legend)
        self.legend.setVisible(False)  # until there are curves

        setup = QHBoxLayout()
        setup.addWidget(QLabel("Vary", self))
        setup.addWidget(self.parameter)
        setup.addWidget(self.values, 1)
        setup.addWidget(self.make_button)
        rows = QHBoxLayout()
        rows.addWidget(self.add_button)
        rows.addWidget(self.remove_button)
        rows.addStretch(1)
        rows.addWidget(self.play_button)
        rows.addWidget(self.stop_button)
        left = QWidget(self)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(setup)
        column.addWidget(self.table, 2)
        column.addLayout(rows)
        column.addWidget(self.message)
        column.addWidget(self.progress)
        column.addWidget(self.loss_plot, 3)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(self.tiles)
        splitter.setSizes([480, 720])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.resize(1280, 760)
        self._apply_palette()

        self.parameter.currentIndexChanged.connect(self._on_parameter)
        self.make_button.clicked.connect(self.make_variants)
        self.values.returnPressed.connect(self.make_variants)
        self.add_button.clicked.connect(self.add_variant)
        self.remove_button.clicked.connect(self.remove_variant)
        self.play_button.clicked.connect(self.toggle_play)
        self.stop_button.clicked.connect(self.stop)
        self.tiles.clicked.connect(self.promote)
        self.table.itemChanged.connect(self._on_table_edited)
        self.controller.snapshot.connect(self._on_snapshot)
        self.controller.stopped.connect(self._on_stopped)
        self.controller.playing_changed.connect(self._on_playing)
        self.make_variants()

    def _apply_palette(self) -> None:
        """The plots in the palette's Base and Text colours, as the main window's."""
        palette = self.palette()
        self.tiles.setBackground(palette.color(QPalette.ColorRole.Base))
        self.tiles.text_colour = palette.color(QPalette.ColorRole.Text)
        self.tiles.dim_colour = palette.color(QPalette.ColorRole.PlaceholderText)
        for label in self.tiles.labels:  # the captions again, in the new colours
            label.setText("")
        self.tiles.show_captions()
        self.loss_plot.apply_palette()
        behind = QColor(palette.color(QPalette.ColorRole.Base))
        behind.setAlpha(170)  # the curves show through the legend, faintly
        self.legend.setBrush(behind)
        self.legend.setPen(palette.color(QPalette.ColorRole.Mid))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # View > Theme
            self._apply_palette()

    # -- the variants -----------------------------------------------------------------------

    @property
    def varied(self) -> str:
        """The setting chosen under "Vary"."""
        return self.parameter.currentData()

    def _on_parameter(self, _index: int) -> None:
        self.values.setText(DEFAULT_VALUES[self.varied])

    def make_variants(self) -> bool:
        """Fill the table with one variant per value typed under "Vary"; False (and a message
        naming the bad value) if they cannot be read."""
        try:
            values = parse_values(self.varied, self.values.text())
        except CompareError as e:
            self.say(str(e), error=True)
            return False
        self.set_variants(variants_varying(self.main.experiment.train, self.varied, values))
        self.say(f"{len(values)} variants of the main experiment: press Play.")
        return True

    def set_variants(self, variants: list[Variant]) -> None:
        """Show ``variants`` in the table (the run, if any, goes on until Play starts anew)."""
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(variants))
            for row, variant in enumerate(variants):
                for col, name in enumerate(_COLUMNS):
                    value = variant.value(name)
                    text = INITS[value] if name == "init" else f"{value:g}"
                    self.table.setItem(row, col, QTableWidgetItem(text))
        finally:
            self.table.blockSignals(False)
        self._stale()

    def variants(self) -> list[Variant]:
        """The table's variants; CompareError naming the row and the setting that is wrong."""
        base = self.main.experiment.train
        out = []
        for row in range(self.table.rowCount()):
            values: dict[str, Any] = {}
            for col, name in enumerate(_COLUMNS):
                item = self.table.item(row, col)
                try:
                    values[name] = parse_value(name, item.text() if item is not None else "")
                except CompareError as e:
                    raise CompareError(f"Variant {row + 1}: {e}") from None
            out.append(Variant.of(base, **values))
        check_variants(out, base)
        return out

    def add_variant(self) -> None:
        """Add a row: a copy of the last variant (or the main experiment's settings)."""
        if self.table.rowCount() >= MAX_VARIANTS:
            self.say(f"Compare trains at most {MAX_VARIANTS} variants at once.", error=True)
            return
        row = self.table.rowCount()
        self.table.blockSignals(True)
        try:
            self.table.insertRow(row)
            base = Variant.of(self.main.experiment.train)
            for col, name in enumerate(_COLUMNS):
                above = self.table.item(row - 1, col) if row else None
                value = base.value(name)
                text = above.text() if above is not None else (
                    INITS[value] if name == "init" else f"{value:g}"
                )
                self.table.setItem(row, col, QTableWidgetItem(text))
        finally:
            self.table.blockSignals(False)
        self._stale()

    def remove_variant(self) -> None:
        """Remove the selected rows (or the last one)."""
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows or [self.table.rowCount() - 1]:
            if row >= 0:
                self.table.removeRow(row)
        self._stale()

    def _on_table_edited(self, _item: Any) -> None:
        self._stale()

    def _stale(self) -> None:
        """The table changed: the next Play starts a new run with it."""
        self._dirty = True

    # -- training ---------------------------------------------------------------------------

    @Slot()
    def toggle_play(self) -> None:
        """Pause if training; else train (a new run if the variants or the experiment changed)."""
        if self.controller.is_playing:
            self.controller.pause()
            self.say("Paused.")
            return
        session = self.controller.session
        if session is None or self._dirty or self._run_experiment != self.main.experiment:
            if not self.start_run():
                return
            session = self.controller.session
        blocker = session.play_blocker()
        if blocker:
            self.say(blocker, error=True)
            return
        self.controller.play()
        if self.controller.is_playing:
            self.say("Training every variant together…")

    def start_run(self) -> bool:
        """Build a CompareSession of the table's variants (paused); False with a message."""
        from ..compare import CompareSession

        session = self.session_of(lambda experiment: CompareSession(experiment, self.variants()))
        if session is None:
            return False
        variants = list(session.variants)
        self._dirty = False
        self._run_experiment = self.main.experiment
        self._names = [v.label(self._shown_parameters(variants)) for v in variants]
        self.rows = _MetricRows(len(variants))
        self._metric = "R²" if session.data.is_regression else "acc"
        self.tiles.set_variants(self._names, session.data.data_arrays())
        self._make_curves(session.data.has_test_points)
        self.controller.start(session)
        # epoch 0's numbers; its tiles come from the worker a moment later (drawing sixteen
        # grids here held the window ~40 ms)
        self._on_snapshot(session.snapshot(tiles=False))
        return True

    @staticmethod
    def _shown_parameters(variants: list[Variant]) -> list[str]:
        """The settings that differ between the variants (what their names show)."""
        differ = [p for p in _COLUMNS if len({v.value(p) for v in variants}) > 1]
        return differ or ["learning_rate"]

    def _make_curves(self, test: bool) -> None:
        """One curve and legend entry per variant: the last run's renamed when there are as
        many, else made anew a moment later (16 legend entries take ~15 ms: not on top of
        the tiles in the same turn of the event loop)."""
        plot = self.loss_plot.getPlotItem()
        plot.setLabel("left", "test loss" if test else "training loss")
        self._loss_name = "test_loss" if test else "train_loss"
        self._ranges = (0.0, 0.0)
        for curve in self.curves:
            curve.set_data(np.zeros(0), np.zeros(0))
        if len(self.curves) == len(self._names):
            for k, (_, label) in enumerate(self.legend.items):
                text = f"{k + 1}  {self._names[k]}"
                if label.text != text:
                    label.setText(text)
            return
        for curve in self.curves:
            plot.removeItem(curve)
        self.legend.clear()
        self.legend.setVisible(False)  # an empty frame until the entries are made
        self.curves = []
        QTimer.singleShot(3 * VariantTiles.TILE_PAUSE_MS, self._add_curves)

    @Slot()
    def _add_curves(self) -> None:
        if self.curves or not self._names:
            return
        plot = self.loss_plot.getPlotItem()
        for k, name in enumerate(self._names):
            curve = _VariantCurve(_curve_pen(k))
            plot.addItem(curve)
            self.legend.addItem(curve, f"{k + 1}  {name}")
            self.curves.append(curve)
        _draw_once(*(part for entry in self.legend.items for part in entry))
        self.legend.setVisible(True)
        self._curve_throttle.request()

    @Slot()
    def stop(self) -> None:
        """End the run: training stops, the next Play starts every variant afresh."""
        self.controller.forget_session()
        self._dirty = True
        self.say("Stopped: Play starts the variants afresh.")

    @Slot(bool)
    def _on_playing(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")

    @Slot(str)
    def _on_stopped(self, reason: str) -> None:
        self._curve_throttle.flush()
        self._caption_throttle.flush()
        self.say(f"Paused: {reason}.")

    @Slot(object)
    def _on_snapshot(self, snap: Any) -> None:
        self.last_snapshot = snap
        if self.rows is None:
            return
        if len(snap.history) or snap.history.start < self.rows.size:
            self.rows.add(snap.history)
            self._curve_throttle.request()
        if snap.grids is not None:  # ~10 Hz
            self.tiles.set_grids(snap.grids)
            for k in range(len(self._names)):
                acc, loss = snap.test_accuracy[k], snap.test_loss[k]
                finite = math.isfinite(acc)
                metrics = f"{self._metric} {acc:.3f} · loss {loss:.3g}" if finite else ""
                self.tiles.set_metrics(k, metrics)
            self._caption_throttle.request()
        for k, diverged in enumerate(snap.diverged):
            note = "" if diverged is None else f"diverged at epoch {diverged[0]}"
            self.tiles.set_note(k, note and f"{note}\n(loss {diverged[1]:.3g})")
        rate = snap.steps_per_second
        speed = f", {rate * len(self._names):,.0f} model-steps/s" if math.isfinite(rate) else ""
        text = f"Epoch {snap.epoch:,}{speed}"
        if self.progress.text() != text:
            self.progress.setText(text)

    def _draw_curves(self) -> None:
        """Every variant's loss curve; the axes move in steps (1, 1.2, 1.5, 2 … × 10^k), as
        the main window's do, not at every snapshot."""
        if self.rows is None or len(self.curves) != self.rows.models:
            return  # the curves are made at the next turn of the event loop
        epochs = self.rows.epoch[: self.rows.size]
        columns = [self.rows.column(self._loss_name, k) for k in range(len(self.curves))]
        finite = [c[np.isfinite(c)] for c in columns]
        peak = max((float(f.max()) for f in finite if len(f)), default=0.0)
        plot = self.loss_plot.getPlotItem()
        last = float(epochs[-1]) if len(epochs) else 0.0
        x_top = nice_ceiling(max(10.0, 1.25 * last))
        limit = self._run_experiment.train.max_epochs if self._run_experiment else None
        if limit is not None and x_top > limit >= last:  # the axis ends where the run will
            x_top = float(max(limit, 10))
        y_top = fine_ceiling(max(peak * 1.08, 1e-6))
        if (x_top, y_top) != self._ranges:
            self._ranges = (x_top, y_top)
            plot.setXRange(0, x_top, padding=0.02)
            plot.setYRange(0, y_top, padding=0.02)
        pixel = plot.getViewBox().viewPixelSize()
        for curve, values in zip(self.curves, columns, strict=True):
            curve.set_data(epochs, np.where(np.isfinite(values), values, np.nan), pixel)

    # -- the main model -----------------------------------------------------------------------

    @Slot(int)
    def promote(self, k: int) -> bool:
        """Make variant k the main model: its settings and trained weights, one undoable step."""
        if self.controller.session is None or not 0 <= k < len(self._names):
            return False
        with self.controller.locked_session() as session:
            experiment = session.variant_experiment(k)
            weights = session.variant_weights(k)
            diverged = session.runs.diverged[k]
        text = f"Use variant {k + 1} ({self._names[k]})"
        self.main.undo_stack.push(_AdoptVariant(self.main, experiment, weights, text))
        note = " (frozen where it diverged)" if diverged is not None else ""
        self.say(f"Variant {k + 1} ({self._names[k]}) is the main model now{note}; "
                 "Edit > Undo brings the previous one back.")
        return True


