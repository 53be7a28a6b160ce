"""Training > Sweep…: a grid of two settings, seeds averaged, as a heatmap of mean ± sd.

The learner chooses the settings of the rows and of the columns (learning rate, L2, batch size,
initialisation) and their values, how many seeds each cell averages and how long each run
trains. Run trains every run in a worker process of the window's own
(``playground.compare.SweepSession``: the runs that share a batch size are stacked into one
model), with a progress bar and Cancel. The final test accuracy (or loss) of each cell shows as
a heatmap with its mean ± sd written in it, exportable as CSV and PNG (written atomically).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..compare import (
    INITS,
    METRICS,
    SWEEP_PARAMETERS,
    CompareError,
    SweepPlan,
    SweepResult,
    describe,
    metric_title,
    parse_values,
    sweep_csv,
)
from ..document import problem_text
from ..files import save_picture, write_text
from .plots import _ThemedPlot
from .side_window import SideWindow

__all__ = ["SweepHeatmap", "SweepWindow"]

DEFAULT_VALUES = {
    "learning_rate": "0.01, 0.03, 0.1, 0.3, 1",
    "weight_decay": "0, 0.0001, 0.001, 0.01",
    "batch_size": "10, 25, 50",
    "init": "Xavier, PyTorch",
}
MAX_AXIS = 12
"""At most this many values on either axis."""


def _tick(parameter: str, value: Any) -> str:
    """An axis tick: the value alone (the axis title names the setting)."""
    return INITS.get(value, str(value)) if parameter == "init" else f"{value:g}"


class SweepHeatmap(_ThemedPlot):
    """The sweep's cells as a heatmap, each with its mean ± sd (and diverged runs) written in;
    the best cell framed, cells with no finished run grey."""

    COLOUR_MAP = "viridis"
    """Perceptually uniform and readable with any common colour-vision deficiency."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweep_heatmap")
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.getViewBox().invertY(True)  # the first row on top, as in the CSV and a table
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        self.colour_map = pg.colormap.get(self.COLOUR_MAP)
        self.colorbar = pg.ColorBarItem(
            values=(0, 1), colorMap=self.colour_map, interactive=False, width=14
        )
        self.colorbar.setImageItem(self.image, insert_in=plot)
        self.texts: list[pg.TextItem] = []
        self._marks: list[QGraphicsRectItem] = []
        self.best: tuple[int, int] | None = None
        self.result: SweepResult | None = None
        self.apply_palette()

    def palette_changed(self, palette: QPalette) -> None:
        axis = self.__dict__.get("colorbar") and self.colorbar.axis
        if axis:  # the colour bar's numbers in the text colour, as the axes'
            text = palette.color(QPalette.ColorRole.Text)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))

    def _text_colour(self, fraction: float) -> str:
        """Black or white, whichever reads better on the colour map at ``fraction``."""
        r, g, b = self.colour_map.mapToFloat(np.array([fraction]))[0][:3]
        return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 else "#ffffff"

    def show_result(self, result: SweepResult, metric: str | None = None) -> None:
        """Draw every cell of ``result``: colour by mean, text "mean ± sd"; ``metric`` names
        the metric in the title (default: its METRICS name)."""
        self.result = result
        plan = result.plan
        plot = self.getPlotItem()
        for item in [*self.texts, *self._marks]:
            plot.removeItem(item)
        self.texts, self._marks = [], []
        rows, cols = len(plan.row_values), len(plan.column_values)
        cells = {(i, j): result.cell(i, j) for i in range(rows) for j in range(cols)}
        means = np.array([[cells[i, j][0] for j in range(cols)] for i in range(rows)])
        finite = means[np.isfinite(means)]
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        self.best = None
        if len(finite):
            pick = np.nanargmin if plan.metric.endswith("loss") else np.nanargmax
            flat = int(pick(np.where(np.isfinite(means), means, np.nan)))
            self.best = divmod(flat, cols)
        for i in range(rows):
            for j in range(cols):
                mean, sd, n = cells[i, j]
                diverged = int(result.diverged[i, j].sum())
                if n == 0:
                    self._mark(QRectF(j, i, 1, 1), QBrush(QColor("#d9d9d9")), Qt.PenStyle.NoPen)
                if n == 0 and not diverged:
                    continue
                lines = [f"<b>{mean:.3f}</b>" if n else "—"]
                if n > 1:
                    lines.append(f"± {sd:.3f}")
                if diverged:
                    lines.append(f"{diverged} diverged")
                colour = self._text_colour((mean - low) / (high - low)) if n else "#000000"
                text = pg.TextItem(anchor=(0.5, 0.5))
                text.setHtml(
                    f'<div align="center" style="color:{colour}">{"<br>".join(lines)}</div>'
                )
                text.textItem.setTextWidth(text.textItem.document().idealWidth())
                text.updateTextPos()
                text.setPos(j + 0.5, i + 0.5)
                text.setZValue(3)
                plot.addItem(text)
                self.texts.append(text)
        if self.best is not None:
            i, j = self.best
            self._mark(QRectF(j, i, 1, 1), QBrush(Qt.BrushStyle.NoBrush), Qt.PenStyle.SolidLine)
        self.colorbar.setLevels((low, high))
        self.image.setImage(
            np.nan_to_num(means, nan=low), levels=(low, high), rect=QRectF(0, 0, cols, rows)
        )
        best = ""
        if self.best is not None:
            i, j = self.best
            best = (f"; best (framed): {describe(plan.rows, plan.row_values[i])}, "
                    f"{describe(plan.columns, plan.column_values[j])}")
        plot.setTitle(
            f"{metric or METRICS[plan.metric]} after {plan.epochs:,} epochs, mean ± sd of "
            f"{len(plan.seeds)} seed{'s' if len(plan.seeds) > 1 else ''}{best}",
            size="10pt",
        )
        bottom, left = plot.getAxis("bottom"), plot.getAxis("left")
        bottom.setTicks([[(j + 0.5, _tick(plan.columns, v)) for j, v in
                          enumerate(plan.column_values)]])
        left.setTicks([[(i + 0.5, _tick(plan.rows, v)) for i, v in enumerate(plan.row_values)]])
        bottom.setLabel(SWEEP_PARAMETERS[plan.columns])
        left.setLabel(SWEEP_PARAMETERS[plan.rows])
        self.apply_palette()  # the new title and axis labels in the palette's colours
        plot.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)

    def _mark(self, rect: QRectF, brush: QBrush, style: Qt.PenStyle) -> None:
        """A rectangle over the cells: grey for no result, a frame for the best."""
        item = QGraphicsRectItem(rect)
        pen = QPen(self.palette().color(QPalette.ColorRole.Text), 3, style)
        pen.setCosmetic(True)
        item.setPen(pen)
        item.setBrush(brush)
        item.setZValue(2)
        self.getPlotItem().addItem(item)
        self._marks.append(item)

    def picture(self) -> QPixmap:
        """The heatmap as on screen."""
        return self.grab()


class SweepWindow(SideWindow):
    """The Sweep window of a main window (``main``), with its own training process."""

    def __init__(self, main: Any) -> None:
        super().__init__(main, "sweep", "Sweep")
        self.result: SweepResult | None = None
        self.finished = False

        self.row_parameter = self._parameter_box("sweep_rows", "learning_rate")
        self.row_values = QLineEdit(DEFAULT_VALUES["learning_rate"], self)
        self.row_values.setObjectName("sweep_row_values")
        self.column_parameter = self._parameter_box("sweep_columns", "weight_decay")
        self.column_values = QLineEdit(DEFAULT_VALUES["weight_decay"], self)
        self.column_values.setObjectName("sweep_column_values")
        for box, line in (
            (self.row_parameter, self.row_values),
            (self.column_parameter, self.column_values),
        ):
            line.setToolTip(f"Up to {MAX_AXIS} values, separated by commas")
            box.currentIndexChanged.connect(
                lambda _=0, b=box, e=line: e.setText(DEFAULT_VALUES[b.currentData()])
            )
        self.seeds = QSpinBox(self)
        self.seeds.setObjectName("sweep_seeds")
        self.seeds.setRange(1, 20)
        self.seeds.setValue(3)
        self.seeds.setToolTip("Runs per cell, with seeds from the main experiment's seed on")
        self.epochs = QSpinBox(self)
        self.epochs.setObjectName("sweep_epochs")
        self.epochs.setRange(1, 100_000)
        self.epochs.setValue(50)
        self.epochs.setToolTip("Epochs each run trains")
        self.metric_box = QComboBox(self)
        self.metric_box.setObjectName("sweep_metric")
        for key, title in METRICS.items():
            self.metric_box.addItem(title, key)
        self.run_button = QPushButton("Run", self)
        self.run_button.setObjectName("sweep_run")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("sweep_cancel")
        self.cancel_button.setEnabled(False)
        self.csv_button = QPushButton("Export CSV…", self)
        self.csv_button.setObjectName("sweep_export_csv")
        self.png_button = QPushButton("Export PNG…", self)
        self.png_button.setObjectName("sweep_export_png")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("sweep_progress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.heatmap = SweepHeatmap(self)

        form = QFormLayout()
        for label, box, line in (
            ("Rows", self.row_parameter, self.row_values),
            ("Columns", self.column_parameter, self.column_values),
        ):
            row = QHBoxLayout()
            row.addWidget(box)
            row.addWidget(line, 1)
            form.addRow(label, row)
        numbers = QHBoxLayout()
        for label, widget in (("Seeds", self.seeds), ("Epochs", self.epochs),
                              ("Result", self.metric_box)):
            numbers.addWidget(QLabel(label, self))
            numbers.addWidget(widget)
        numbers.addStretch(1)
        form.addRow(numbers)
        buttons = QHBoxLayout()
        for button in (self.run_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addWidget(self.progress, 1)
        for button in (self.csv_button, self.png_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.heatmap, 1)
        self.resize(900, 700)

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self.png_button.clicked.connect(lambda: self.export_png())
        self.controller.snapshot.connect(self._on_snapshot)
        self.controller.stopped.connect(self._on_stopped)
        self._set_exportable(False)

    def _parameter_box(self, name: str, chosen: str) -> QComboBox:
        box = QComboBox(self)
        box.setObjectName(name)
        for key, title in SWEEP_PARAMETERS.items():
            box.addItem(title, key)
        box.setCurrentIndex(list(SWEEP_PARAMETERS).index(chosen))
        return box

    def _set_exportable(self, exportable: bool) -> None:
        self.csv_button.setEnabled(exportable)
        self.png_button.setEnabled(exportable)

    # -- running ------------------------------------------------------------------------------

    def plan(self) -> SweepPlan:
        """The sweep the boxes describe; CompareError naming what is wrong."""
        rows, columns = self.row_parameter.currentData(), self.column_parameter.currentData()
        if rows == columns:
            raise CompareError("Choose two different settings for the rows and the columns.")
        base = self.main.experiment.train.seed
        return SweepPlan(
            rows,
            tuple(parse_values(rows, self.row_values.text(), MAX_AXIS)),
            columns,
            tuple(parse_values(columns, self.column_values.text(), MAX_AXIS)),
            tuple(range(base, base + self.seeds.value())),
            self.epochs.value(),
            self.metric_box.currentData(),
        )

    def showEvent(self, event: Any) -> None:
        """Name the metrics for the main experiment's task (R² for a regression) when shown."""
        regression = self.main.experiment.task == "regression"
        for index in range(self.metric_box.count()):
            key = self.metric_box.itemData(index)
            self.metric_box.setItemText(index, metric_title(key, regression))
        super().showEvent(event)

    @Slot()
    def run(self) -> bool:
        """Start the sweep in the worker; False (with the reason shown) if it cannot run."""
        from ..compare import SweepSession

        session = self.session_of(lambda experiment: SweepSession(experiment, self.plan()))
        if session is None:
            return False
        plan = session.plan
        self.finished = False
        self.result = None
        self._set_exportable(False)
        self.progress.setValue(0)
        self.controller.start(session)
        self.controller.play()
        if not self.controller.is_playing:
            return False
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.say(f"Training {plan.size} runs ({plan.size // len(plan.seeds)} cells × "
                 f"{len(plan.seeds)} seeds) of {plan.epochs:,} epochs…")
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop the sweep; what it trained is dropped (nothing to export)."""
        if not self.controller.is_playing:
            return
        self.controller.forget_session()
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.say("Cancelled: nothing was kept. Run starts the sweep again.")

    @Slot(object)
    def _on_snapshot(self, snap: Any) -> None:
        if snap.total_epochs:
            self.progress.setValue(round(1000 * snap.done_epochs / snap.total_epochs))
        self.progress.setFormat(f"{snap.runs_done} of {snap.result.plan.size} runs done")
        self.result = snap.result

    @Slot(str)
    def _on_stopped(self, reason: str) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        session = self.controller.session
        if session is None or not session.finished:
            self.say(f"The sweep stopped: {reason}.", error=True)
            return
        self.result = session.result()
        self.finished = True
        self.progress.setValue(1000)
        regression = self.main.experiment.task == "regression"
        self.heatmap.show_result(self.result, metric_title(self.result.plan.metric, regression))
        self._set_exportable(True)
        diverged = int(self.result.diverged.sum())
        extra = f"; {diverged} runs diverged (left out of their cells)" if diverged else ""
        self.say(f"Done: {self.result.plan.size} runs{extra}.")

    # -- export -------------------------------------------------------------------------------

    def _ask(self, title: str, name: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.cwd() / name), filters)
        if path and not Path(path).suffix:
            path += Path(name).suffix
        return path

    def export_csv(self, path: str | os.PathLike | None = None) -> bool:
        """Write the finished sweep as CSV (one row per cell), atomically."""
        if not self.finished or self.result is None:
            self.say("Nothing to export yet: run the sweep to the end first.", error=True)
            return False
        path = path or self._ask("Export Sweep", "sweep.csv", "CSV (*.csv);;All files (*)")
        if not path:
            return False
        return self._write(path, lambda p: write_text(p, sweep_csv(self.result)))

    def export_png(self, path: str | os.PathLike | None = None) -> bool:
        """Save the heatmap as a PNG image, atomically."""
        if not self.finished or self.result is None:
            self.say("Nothing to export yet: run the sweep to the end first.", error=True)
            return False
        path = path or self._ask("Export Sweep Heatmap", "sweep.png", "PNG image (*.png)")
        if not path:
            return False
        return self._write(path, lambda p: save_picture(self.heatmap.picture(), p))

    def _write(self, path: str | os.PathLike, write: Any) -> bool:
        try:
            write(path)
        except OSError as e:
            problem = problem_text(e)
            QMessageBox.warning(self, "Export Sweep", f"Could not write {path}:\n\n{problem}")
            self.say(f"Could not write {path}: {problem}", error=True)
            return False
        self.say(f"Wrote {path}.")
        return True

