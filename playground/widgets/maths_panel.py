"""The maths of one neuron column: its ops' forward and backward formulas, W, b and dW as heatmaps.

The formulas are the engine's own text (``Column.forward`` / ``Column.backward``, which come from
``minidl.formula``, i.e. each op's docstring): this widget only lays them out, one op a line.
Weights and gradients are drawn as pyqtgraph ImageItems on a diverging colour map centred on 0
(TensorFlow Playground's orange for negative, blue for positive). A snapshot only sets new
image data; the colour levels move in 1, 2, 5 x 10^k steps so the colour bars' ticks are not
laid out anew at every frame. Hovering a cell shows its value, e.g. ``W[2, 0] = -0.413``.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontDatabase, QPalette, QTextDocument
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from .plots import CLASS0, CLASS1, _ThemedPlot, nice_ceiling

__all__ = ["WEIGHT_MAP", "MathsPanel", "MatrixPlot", "symmetric_level"]

# negative orange, zero light grey, positive blue: the sign colours of TensorFlow Playground
WEIGHT_MAP = pg.ColorMap(
    [0.0, 0.5, 1.0],
    [CLASS0.getRgb()[:3], (235, 235, 235), CLASS1.getRgb()[:3]],
)

LEVEL_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)


def symmetric_level(values: np.ndarray, current: float = 0.0) -> float:
    """The colour level L (levels -L..L) for ``values``: a round step above max |value|.

    The steps are 1, 1.5, 2, 3, 5, 7 x 10^k, fine enough that the largest weight is strongly
    coloured. ``current`` is kept while it still fits (max |value| between half of it and
    it), so the levels do not change with every frame. Non-finite values are ignored; all-zero
    or empty data gives 1.
    """
    finite = np.abs(values[np.isfinite(values)]) if values.size else values
    peak = float(finite.max()) if finite.size else 0.0
    if peak <= 0.0:
        return current if current > 0 else 1.0
    if current > 0 and current / 2 <= peak <= current:
        return current
    power = 10.0 ** math.floor(math.log10(peak))
    for step in LEVEL_STEPS:
        if step * power >= peak * (1 - 1e-12):
            return step * power
    return 10.0 * power


def _index_ticks(n: int) -> list[tuple[float, str]]:
    """Axis ticks at cell centres (k + 0.5) labelled with the index k, at most ~10 of them."""
    step = 1 if n <= 12 else int(nice_ceiling(n / 10))
    return [(k + 0.5, str(k)) for k in range(0, n, step)]


class _HoverImage(pg.ImageItem):
    """An ImageItem whose tooltip names the cell under the mouse and its value."""

    def __init__(self, owner: MatrixPlot) -> None:
        super().__init__(axisOrder="row-major")
        self._owner = owner
        self._cell: tuple[int, int] | None = None

    def hoverEvent(self, event: Any) -> None:  # noqa: N802 (pyqtgraph's name)
        if event.isExit():
            self._cell = None
        else:
            pos = event.pos()
            self._cell = (math.floor(pos.y()), math.floor(pos.x()))
        self.refresh_tooltip()

    def refresh_tooltip(self) -> None:
        """Show the hovered cell's current value (called on hover and on new data)."""
        text = self._owner.describe(*self._cell) if self._cell is not None else ""
        self.setToolTip(text)


class MatrixPlot(_ThemedPlot):
    """One matrix as a heatmap: rows down the y axis, columns along x, a colour bar beside it.

    ``set_matrix(m)`` draws ``m`` (2-D; a 1-D vector is drawn as one column) with levels
    symmetric around 0; hovering a cell shows ``name[row, col] = value``.
    """

    def __init__(
        self, name: str, x_label: str, y_label: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.name = name
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.getViewBox().invertY(True)  # row 0 at the top, as a matrix is written
        plot.setTitle(name, size="9pt")
        plot.setLabel("bottom", x_label or " ")  # a blank label keeps rows level with W's
        plot.setLabel("left", y_label)
        self.image = _HoverImage(self)
        plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=(-1.0, 1.0),
            colorMap=WEIGHT_MAP,
            interactive=False,
            width=10,
            colorMapMenu=False,
        )
        self.colorbar.setImageItem(self.image, insert_in=plot)
        # more than 256 colours: pyqtgraph colours the image itself (see DecisionBoundaryPlot)
        self.image.setLookupTable(WEIGHT_MAP.getLookupTable(0.0, 1.0, 1024, alpha=False))
        self.matrix: np.ndarray | None = None
        self.level = 1.0
        self._shape: tuple[int, int] | None = None
        self._vector = False
        self.setMinimumSize(120, 120)
        self.apply_palette()

    def set_matrix(self, matrix: np.ndarray | None, title: str | None = None) -> None:
        """Draw ``matrix`` (None empties the plot); ``title`` replaces the plot's title."""
        plot = self.getPlotItem()
        if title is not None and title != plot.titleLabel.text:
            plot.setTitle(title, size="9pt")
        if matrix is None:
            self.matrix = None
            self.image.clear()
            self.image.refresh_tooltip()
            return
        data = np.asarray(matrix, dtype=np.float32)
        self._vector = data.ndim == 1
        if self._vector:
            data = data[:, None]
        if data.ndim != 2:
            raise ValueError(f"{self.name}: expected a matrix or a vector, got shape {data.shape}")
        self.matrix = data
        level = symmetric_level(data, self.level)
        if level != self.level:
            self.level = level
            self.colorbar.setLevels((-level, level))
        shown = np.nan_to_num(data, nan=0.0, posinf=level, neginf=-level)
        rows, cols = data.shape
        self.image.setImage(
            shown, levels=(-level, level), rect=QRectF(0, 0, cols, rows), autoLevels=False
        )
        if data.shape != self._shape:
            self._shape = data.shape
            plot.getAxis("left").setTicks([_index_ticks(rows)])
            # a vector keeps one blank tick, so its axis is as tall as a matrix's
            plot.getAxis("bottom").setTicks([[(0.5, " ")] if self._vector else _index_ticks(cols)])
            plot.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)
        self.image.refresh_tooltip()

    def describe(self, row: int, col: int) -> str:
        """The tooltip of one cell, e.g. ``W[2, 0] = -0.4131``; '' outside the matrix."""
        if self.matrix is None:
            return ""
        rows, cols = self.matrix.shape
        if not (0 <= row < rows and 0 <= col < cols):
            return ""
        value = float(self.matrix[row, col])
        index = f"{row}" if self._vector else f"{row}, {col}"
        return f"{self.name}[{index}] = {value:.4g}"


def _layer_names(column: Any) -> list[str]:
    """A short name for each of the column's ops, read from its title ("Linear 8 + ReLU").

    The title lists the column's layers joined by " + "; sizes after a name are dropped. If it
    does not list one name per op, the ops are numbered instead.
    """
    parts = [part.strip() for part in str(column.title).split(" + ")]
    if len(parts) != len(column.forward):
        return [f"{k + 1}." for k in range(len(column.forward))]
    return [re.sub(r"(\s+[\d.×x→(),]+)+$", "", part) or part for part in parts]


class MathsPanel(QWidget):
    """The selected layer's maths: formulas from the engine, W, b and the last dW as heatmaps.

    ``show_column(column, weight, bias, grad)`` shows a Column (playground.insight) with its
    weight (out, in), bias (out,) and last gradient dW (out, in) (any may be None); the input
    column lists its features. ``clear()`` says that nothing is selected.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("maths_panel")
        self.title = QLabel(self)
        self.title.setObjectName("maths_title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.formulas = QLabel(self)
        self.formulas.setObjectName("maths_formulas")
        self.formulas.setTextFormat(Qt.TextFormat.RichText)
        self.formulas.setWordWrap(True)
        self.formulas.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formulas.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()

        self.weight_plot = MatrixPlot("W", "input unit", "unit", self)
        self.bias_plot = MatrixPlot("b", "", "unit", self)
        self.grad_plot = MatrixPlot("dW", "input unit", "unit", self)
        self.weight_plot.setObjectName("maths_weight")
        self.bias_plot.setObjectName("maths_bias")
        self.grad_plot.setObjectName("maths_grad")
        self.bias_plot.setMinimumWidth(90)
        self.bias_plot.setMaximumWidth(130)
        self.heatmaps = QWidget(self)
        row = QHBoxLayout(self.heatmaps)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.weight_plot, 3)
        row.addWidget(self.bias_plot, 1)
        row.addWidget(self.grad_plot, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.formulas)
        layout.addWidget(self.heatmaps, 1)
        self._column: Any = None
        self.clear()

    def clear(self) -> None:
        """Show that no layer is selected."""
        self._column = None
        self.title.setText("<b>Maths</b>")
        self.formulas.setText("<i>Select a layer in the network view to see its maths.</i>")
        for plot in (self.weight_plot, self.bias_plot, self.grad_plot):
            plot.set_matrix(None)
        self.heatmaps.hide()

    def show_column(
        self,
        column: Any,
        weight: np.ndarray | None,
        bias: np.ndarray | None,
        grad: np.ndarray | None,
    ) -> None:
        """Show ``column``'s formulas and its W, b and dW (cheap when only the numbers change)."""
        if column != self._column:
            self._column = column
            self._show_text(column)
        if weight is None:
            self.heatmaps.hide()
            return
        self.heatmaps.show()
        rows, cols = np.shape(weight)
        self.weight_plot.set_matrix(weight, f"W  ({rows} × {cols})")
        self.bias_plot.set_matrix(bias, "b")
        self.grad_plot.set_matrix(grad, "dW  (last step)" if grad is not None else "dW  (none yet)")

    def _show_text(self, column: Any) -> None:
        formula = f" &nbsp; <code>{html.escape(column.formula)}</code>" if column.formula else ""
        self.title.setText(f"<b>{html.escape(column.title)}</b>{formula}")
        if not column.forward:  # the inputs: no op, only the features
            names = ", ".join(html.escape(name) for name in column.names)
            self.formulas.setText(f"{column.units} input features: {self._code(names)}")
            return
        names = _layer_names(column)
        width = max(len(name) for name in names)
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText).name()

        def lines(texts: tuple[str, ...]) -> str:
            return "<br>".join(
                f"<span style='color:{muted}'>{html.escape(name.ljust(width))}</span>  "
                f"{html.escape(text)}"
                for name, text in zip(names, texts, strict=True)
            )

        self.formulas.setText(
            f"<b>Forward</b>{self._code(lines(column.forward))}"
            f"<b>Backward</b>{self._code(lines(column.backward))}"
        )

    def _code(self, body: str) -> str:
        return (
            f"<div style=\"font-family:'{self._mono}'; white-space:pre-wrap; "
            f'margin:2px 0 6px 12px">{body}</div>'
        )

    def formula_lines(self) -> list[str]:
        """The formulas as plain text, one line per op (what a reader sees), for tests."""
        doc = QTextDocument()
        doc.setHtml(self.formulas.text())
        return [line.replace("\u00a0", " ") for line in doc.toPlainText().splitlines()]
