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

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPalette, QUndoCommand
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
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
    variants_varying,
)
from ..experiment import ExperimentError
from ..worker import TrainingController
from .colours import class_colours, class_image, value_colours
from .plots import BOUNDARY_MAP, _Curve, _draw_once, _thin_pen, nice_ceiling

__all__ = ["CompareWindow", "VARIANT_COLOURS"]

VARIANT_COLOURS = [
    QColor(c)
    for c in (
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#843c39", "#7b4173", "#636363",
    )
]
"""One colour per variant: its tile's frame and its loss curve."""

DEFAULT_VALUES = {
    "learning_rate": "0.003, 0.01, 0.03, 0.1, 0.3",
    "weight_decay": "0, 0.0001, 0.001, 0.01",
    "seed": "0, 1, 2, 3",
    "init": "Xavier, PyTorch, Zeros",
}
_COLUMNS = ("learning_rate", "weight_decay", "seed", "init")
_LUT = BOUNDARY_MAP.getLookupTable(0.0, 1.0, 1024, alpha=False)
MAX_TILE_POINTS = 2000
"""A tile draws at most this many of the training points (a random subset, as the main plot)."""


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
    name and test metrics above; a click on a tile emits ``clicked(k)``."""

    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compare_tiles")
        self.setToolTip("Click a tile to make that variant the main window's model")
        self.labels: list[Any] = []
        self.views: list[pg.ViewBox] = []
        self.images: list[pg.ImageItem] = []
        self.notes: list[pg.TextItem] = []
        self._rect = QRectF(0, 0, 1, 1)
        self._levels = (0.0, 1.0)
        self.text_colour = QColor(0, 0, 0)
        self._key: tuple | None = None
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_variants(self, names: list[str], arrays: Any) -> None:
        """One tile per variant name, over the training points of ``arrays`` (DataArrays);
        the tiles of the last call are kept (renamed) when the count and the points are alike."""
        key = (len(names), arrays.domain, arrays.x_train.tobytes(), arrays.y_train.tobytes())
        if key == self._key:
            for k, name in enumerate(names):
                self.set_caption(k, name)
                self.set_note(k, "")
            return
        self._key = key
        self.clear()
        self.labels, self.views, self.images, self.notes = [], [], [], []
        x0, x1, y0, y1 = arrays.domain
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self._levels = arrays.value_range() if arrays.is_regression else (0.0, 1.0)
        columns = max(1, math.ceil(math.sqrt(len(names))))
        shown = arrays.shown(MAX_TILE_POINTS)  # a tile is small: a subset shows the data
        if arrays.is_regression:  # one group, each point in its target's colour
            brushes = [pg.mkBrush(c) for c in value_colours(shown.y_train, self._levels)]
            groups = [(shown.x_train, brushes, None)]
        else:  # a darker rim keeps a point visible on its own class's region
            colours = class_colours(max(arrays.classes, 2))
            groups = [
                (shown.x_train[shown.y_train == c], pg.mkBrush(colour), colour.darker(170))
                for c, colour in enumerate(colours)
            ]
        for k, name in enumerate(names):
            row, col = divmod(k, columns)
            label = self.addLabel(name, row=2 * row, col=col, size="8pt", color=self.text_colour)
            view = self.addViewBox(
                row=2 * row + 1, col=col, lockAspect=True, enableMouse=False, enableMenu=False
            )
            view.setBorder(pg.mkPen(VARIANT_COLOURS[k % len(VARIANT_COLOURS)], width=3))
            image = pg.ImageItem(axisOrder="row-major")
            image.setLookupTable(_LUT)
            view.addItem(image)
            for points, brush, rim in groups:
                pen = None if rim is None else pg.mkPen(rim, width=0.6)
                scatter = pg.ScatterPlotItem(
                    x=points[:, 0], y=points[:, 1], size=3, pen=pen, brush=brush
                )
                view.addItem(scatter)
                _draw_once(scatter)
            note = pg.TextItem("", color=(200, 0, 0), anchor=(0.5, 0.5), fill=(255, 255, 255, 200))
            note.setPos((x0 + x1) / 2, (y0 + y1) / 2)
            note.setZValue(5)
            note.setVisible(False)
            view.addItem(note)
            view.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            self.labels.append(label)
            self.views.append(view)
            self.images.append(image)
            self.notes.append(note)

    def set_grids(self, grids: np.ndarray) -> None:
        """Each tile's grid, rows along x₂: P(class 1) or a regression's value (M, n, n), in
        the main plot's colours, or K class probabilities (M, K, n, n) as its class regions."""
        if grids.ndim == 4:
            for image, grid in zip(self.images, grids, strict=False):
                rgb = class_image(grid)
                image.setImage(rgb, levels=(0, 255), rect=self._rect, autoLevels=False)
            return
        low, high = self._levels
        clean = np.nan_to_num(
            grids.astype(np.float32), nan=0.5 * (low + high), posinf=high, neginf=low
        )
        for image, grid in zip(self.images, clean, strict=False):
            image.setImage(grid, levels=self._levels, rect=self._rect, autoLevels=False)

    def set_caption(self, k: int, text: str) -> None:
        """The text above tile k (re-laid out only when it changes)."""
        if self.labels[k].text != text:
            self.labels[k].setText(text, size="8pt", color=self.text_colour)

    def set_note(self, k: int, text: str) -> None:
        """A note across tile k (its divergence), "" for none."""
        if self.notes[k].toPlainText() == text and self.notes[k].isVisible() == bool(text):
            return
        self.notes[k].setText(text)
        self.notes[k].setVisible(bool(text))
        colour = QColor(200, 0, 0) if text else VARIANT_COLOURS[k % len(VARIANT_COLOURS)]
        style = Qt.PenStyle.DashLine if text else Qt.PenStyle.SolidLine
        self.views[k].setBorder(pg.mkPen(colour, width=3, style=style))

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


class CompareWindow(QWidget):
    """The Compare window of a main window (``main``), with its own training process."""

    def __init__(self, main: Any) -> None:
        super().__init__(main, Qt.WindowType.Window)
        self.setObjectName("compare_window")
        self.setWindowTitle("Compare — minidl playground")
        self.main = main
        self.controller = TrainingController(self)
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
        self.message = QLabel(self)
        self.message.setObjectName("compare_message")
        self.message.setWordWrap(True)
        self.progress = QLabel("", self)
        self.progress.setObjectName("compare_progress")
        self.tiles = VariantTiles(self)
        self.loss_plot = pg.PlotWidget(self)
        self.loss_plot.setObjectName("compare_loss")
        plot = self.loss_plot.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", "test loss")
        plot.setTitle("Loss", size="9pt")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.enableAutoRange(x=False, y=False)
        self.legend = plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.curves: list[_Curve] = []
        self._ranges = (0.0, 0.0)
        _draw_once(plot.getAxis("left"), plot.getAxis("bottom"), self.legend)

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
        column.addWidget(self.table, 1)
        column.addLayout(rows)
        column.addWidget(self.message)
        column.addWidget(self.progress)
        column.addWidget(self.loss_plot, 1)
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
        base = self.palette().color(QPalette.ColorRole.Base)
        text = self.palette().color(QPalette.ColorRole.Text)
        self.tiles.setBackground(base)
        self.tiles.text_colour = text
        self.loss_plot.setBackground(base)
        plot = self.loss_plot.getPlotItem()
        for name in ("left", "bottom"):
            plot.getAxis(name).setPen(pg.mkPen(text))
            plot.getAxis(name).setTextPen(pg.mkPen(text))
        plot.titleLabel.setAttr("color", text)
        plot.setTitle("Loss", size="9pt")
        self.legend.setLabelTextColor(text)

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

    def say(self, text: str, *, error: bool = False) -> None:
        """Show a sentence under the table (in red for a problem)."""
        self.message.setStyleSheet("color: #c00000;" if error else "")
        self.message.setText(text)

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
        experiment = self.main.experiment
        problems = experiment.problems()
        if problems:
            self.say(f"The main experiment cannot train yet: {problems[0]}", error=True)
            return False
        try:
            variants = self.variants()
            from ..compare import CompareSession

            session = CompareSession(experiment, variants)
        except (ExperimentError, ValueError) as e:
            self.say(str(e), error=True)
            return False
        self._dirty = False
        self._run_experiment = experiment
        self._names = [v.label(self._shown_parameters(variants)) for v in variants]
        self.rows = _MetricRows(len(variants))
        self._metric = "R²" if session.data.is_regression else "acc"
        self.tiles.set_variants(self._names, session.data.data_arrays())
        self._make_curves(session.data.has_test_points)
        self.controller.start(session)
        self._on_snapshot(session.snapshot())
        return True

    @staticmethod
    def _shown_parameters(variants: list[Variant]) -> list[str]:
        """The settings that differ between the variants (what their names show)."""
        differ = [p for p in _COLUMNS if len({v.value(p) for v in variants}) > 1]
        return differ or ["learning_rate"]

    def _make_curves(self, test: bool) -> None:
        plot = self.loss_plot.getPlotItem()
        for curve in self.curves:
            plot.removeItem(curve)
        self.legend.clear()
        self.curves = []
        plot.setLabel("left", "test loss" if test else "training loss")
        self._loss_name = "test_loss" if test else "train_loss"
        for k, name in enumerate(self._names):
            curve = _Curve(_thin_pen(VARIANT_COLOURS[k % len(VARIANT_COLOURS)]))
            plot.addItem(curve)
            self.legend.addItem(curve, name)
            self.curves.append(curve)
        _draw_once(*(part for entry in self.legend.items for part in entry))
        self._ranges = (0.0, 0.0)

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
        self.say(f"Paused: {reason}.")

    @Slot(object)
    def _on_snapshot(self, snap: Any) -> None:
        self.last_snapshot = snap
        if self.rows is None:
            return
        if len(snap.history) or snap.history.start < self.rows.size:
            self.rows.add(snap.history)
            self._draw_curves()
        if snap.grids is not None:  # ~10 Hz: the tiles and their captions with them
            self.tiles.set_grids(snap.grids)
            for k, name in enumerate(self._names):
                acc, loss = snap.test_accuracy[k], snap.test_loss[k]
                caption = name
                if math.isfinite(acc):
                    caption += f" · {self._metric} {acc:.3f} · loss {loss:.3g}"
                self.tiles.set_caption(k, caption)
        for k, diverged in enumerate(snap.diverged):
            note = "" if diverged is None else f"diverged at epoch {diverged[0]}"
            self.tiles.set_note(k, note and f"{note}\n(loss {diverged[1]:.3g})")
        rate = snap.steps_per_second
        speed = f", {rate * len(self._names):,.0f} model-steps/s" if math.isfinite(rate) else ""
        self.progress.setText(f"Epoch {snap.epoch:,}{speed}")

    def _draw_curves(self) -> None:
        """Every variant's loss curve; the axes move in steps (1, 2, 5 × 10^k), as the main
        window's do, not at every snapshot."""
        assert self.rows is not None
        epochs = self.rows.epoch[: self.rows.size]
        peak = 0.0
        for k, curve in enumerate(self.curves):
            values = self.rows.column(self._loss_name, k)
            values = np.where(np.isfinite(values), values, np.nan)
            curve.set_data(epochs, values)
            if np.isfinite(values).any():
                peak = max(peak, float(np.nanmax(values)))
        plot = self.loss_plot.getPlotItem()
        last = float(epochs[-1]) if len(epochs) else 0.0
        x_top = nice_ceiling(max(10.0, 1.25 * last))
        y_top = nice_ceiling(max(peak * 1.1, 1e-6))
        if (x_top, y_top) != self._ranges:
            self._ranges = (x_top, y_top)
            plot.setXRange(0, x_top, padding=0.02)
            plot.setYRange(0, y_top, padding=0.02)

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

    def closeEvent(self, event: Any) -> None:
        self.controller.shutdown()
        super().closeEvent(event)

