"""Gradient and weight norms per Linear layer over the epochs, on a log axis.

Vanishing and exploding gradients show as curves sinking or climbing by decades: each Linear
layer has one colour, ‖∇W‖ (the last step's weight gradient) solid and ‖W‖ dashed. Built like the
loss and accuracy plots (plots.py): curves are plain Qt path items grown from preallocated
arrays, the x axis moves in 1, 2, 5 x 10^k steps, and values a log axis cannot show (0, negative,
NaN, infinite: a diverged run) are drawn as gaps. ``mark_divergence`` thickens the layer whose
gradient blew up and says so in a note above the plot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .plots import _Curve, _draw_once, _drawable, _ThemedPlot, _thin_pen, nice_ceiling

__all__ = ["LAYER_COLOURS", "GradientPlot"]

# one colour per Linear layer (Tableau 10), readable on a light and on a dark background
LAYER_COLOURS = tuple(
    QColor(c)
    for c in (
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    )
)  # fmt: skip


class GradientPlot(QWidget):
    """‖∇W‖ (solid) and ‖W‖ (dashed) of each Linear layer per epoch, log y.

    ``set_labels(labels)`` names the layers (e.g. "Linear 1 (2→8)"), ``append(epochs,
    grad_norms, weight_norms)`` adds epochs (n,) with norms (n, layers), ``clear()`` forgets
    them, ``mark_divergence(layer, text)`` points at the layer whose gradient blew up.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gradient_plot")
        self.note = QLabel(self)
        self.note.setObjectName("gradient_note")
        self.note.setWordWrap(True)
        # the notice bar's amber (notice.py), over the palette's colours: reads in both themes
        self.note.setStyleSheet(
            "#gradient_note { background: rgba(240, 170, 0, 0.22);"
            " border: 1px solid rgba(200, 130, 0, 0.8); border-radius: 4px; padding: 3px 6px; }"
        )
        self.note.hide()
        self.plot = _ThemedPlot(self)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.setTitle("Gradient ‖∇W‖ (solid) and weight ‖W‖ (dashed) norms", size="9pt")
        item.setLabel("bottom", "epoch")
        item.setLabel("left", "norm")
        item.setLogMode(y=True)
        item.enableAutoRange(x=False, y=True)
        self.legend = item.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.plot.setAntialiasing(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.plot, 1)
        self.setMinimumHeight(140)

        self.labels: list[str] = []
        self.grad_curves: list[_Curve] = []
        self.weight_curves: list[_Curve] = []
        self._epochs = np.empty(0)
        self._grads = np.empty((0, 0))
        self._weights = np.empty((0, 0))
        self.size = 0
        self.highlighted: int | None = None
        self._x_top = 0.0
        self._set_x_top(10.0)
        self.plot.apply_palette()

    # -- layers ---------------------------------------------------------------------------

    def set_labels(self, labels: Sequence[str]) -> None:
        """Name the Linear layers (one curve pair each); a new set of layers clears the plot."""
        labels = list(labels)
        if labels == self.labels:
            return
        item = self.plot.getPlotItem()
        for curve in self.grad_curves + self.weight_curves:
            item.removeItem(curve)
        legend = self.legend
        legend.clear()
        self.labels = labels
        self.grad_curves, self.weight_curves = [], []
        for k, label in enumerate(labels):
            colour = LAYER_COLOURS[k % len(LAYER_COLOURS)]
            grad = _Curve(_thin_pen(colour))
            weight = _Curve(_thin_pen(colour, Qt.PenStyle.DashLine))
            item.addItem(grad)
            item.addItem(weight)
            legend.addItem(grad, label)
            self.grad_curves.append(grad)
            self.weight_curves.append(weight)
        _draw_once(legend, *(part for entry in legend.items for part in entry))
        self.highlighted = None
        self.clear()
        self.plot.apply_palette()

    # -- data -----------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every epoch (a new run) and the divergence mark."""
        self.size = 0
        n = len(self.labels)
        self._epochs = np.empty(256)
        self._grads = np.empty((256, n))
        self._weights = np.empty((256, n))
        self.mark_divergence(None, "")
        self._redraw()

    def append(self, epochs: np.ndarray, grad_norms: np.ndarray, weight_norms: np.ndarray) -> None:
        """Add epochs (n,) with their norms (n, layers); epochs not after the last replace them.

        A run that was reset starts again at an earlier epoch: the epochs from there on are
        dropped first, as the loss curves do. Without labels, the layers are named "Linear k".
        """
        epochs = np.asarray(epochs, dtype=np.float64).reshape(-1)
        grads = np.asarray(grad_norms, dtype=np.float64)
        weights = np.asarray(weight_norms, dtype=np.float64)
        n = len(epochs)
        if n == 0:
            return
        if grads.ndim != 2 or grads.shape != weights.shape or grads.shape[0] != n:
            raise ValueError(
                f"gradient norms: expected epochs (n,) and norms (n, layers) of one shape, got "
                f"{epochs.shape}, {grads.shape} and {weights.shape}"
            )
        if not self.labels:
            self.set_labels([f"Linear {k + 1}" for k in range(grads.shape[1])])
        if grads.shape[1] != len(self.labels):
            raise ValueError(
                f"gradient norms: {grads.shape[1]} layers given, {len(self.labels)} labelled"
            )
        start = int(np.searchsorted(self._epochs[: self.size], epochs[0], side="left"))
        end = start + n
        if end > len(self._epochs):
            capacity = max(end, 2 * len(self._epochs))
            self._epochs = _grown(self._epochs, capacity, start)
            self._grads = _grown(self._grads, capacity, start)
            self._weights = _grown(self._weights, capacity, start)
        self._epochs[start:end] = epochs
        self._grads[start:end] = grads
        self._weights[start:end] = weights
        self.size = end
        self._redraw()

    def epochs(self) -> np.ndarray:
        """The epochs so far (a view)."""
        return self._epochs[: self.size]

    def grad_norms(self) -> np.ndarray:
        """The gradient norms so far, (epochs, layers) (a view)."""
        return self._grads[: self.size]

    def weight_norms(self) -> np.ndarray:
        """The weight norms so far, (epochs, layers) (a view)."""
        return self._weights[: self.size]

    def _redraw(self) -> None:
        epochs = self.epochs()
        last = float(epochs[-1]) if len(epochs) else 0.0
        if last > self._x_top or last < self._x_top / 5:
            self._set_x_top(nice_ceiling(max(10.0, 1.25 * last)))
        view = self.plot.getPlotItem().getViewBox()
        for k, (grad, weight) in enumerate(zip(self.grad_curves, self.weight_curves, strict=True)):
            grad.set_data(epochs, _drawable(self._grads[: self.size, k], log=True))
            weight.set_data(epochs, _drawable(self._weights[: self.size, k], log=True))
            view.itemBoundsChanged(grad)
            view.itemBoundsChanged(weight)

    def _set_x_top(self, top: float) -> None:
        if top != self._x_top:
            self._x_top = top
            self.plot.getPlotItem().setXRange(0, top, padding=0.02)

    # -- divergence -----------------------------------------------------------------------

    def mark_divergence(self, layer_index: int | str | None, text: str) -> None:
        """Thicken layer ``layer_index``'s curves and show ``text`` above the plot.

        The layer is an index or one of the labels (``Session.divergence_layer``); None, an
        index out of range or an unknown label highlights none. An empty text hides the note.
        """
        if isinstance(layer_index, str):
            layer_index = self.labels.index(layer_index) if layer_index in self.labels else None
        if layer_index is not None and not 0 <= layer_index < len(self.labels):
            layer_index = None
        self.highlighted = layer_index
        for k, (grad, weight) in enumerate(zip(self.grad_curves, self.weight_curves, strict=True)):
            colour = QColor(LAYER_COLOURS[k % len(LAYER_COLOURS)])
            if layer_index is not None and k != layer_index:
                colour.setAlpha(90)  # the others step back
            width = 2.5 if k == layer_index else 0
            pen = _thin_pen(colour)
            pen.setWidthF(width)
            dashed = _thin_pen(colour, Qt.PenStyle.DashLine)
            dashed.setWidthF(width / 2)
            grad.setPen(pen)
            weight.setPen(dashed)
        self.note.setText(text)
        self.note.setVisible(bool(text))


def _grown(array: np.ndarray, capacity: int, keep: int) -> np.ndarray:
    """``array`` with room for ``capacity`` rows, its first ``keep`` rows kept."""
    grown = np.empty((capacity, *array.shape[1:]))
    grown[:keep] = array[:keep]
    return grown
