"""The inside of the network, TF Playground's way: every unit a live map, every weight a link.

One column of nodes per neuron column (playground.insight.Column): the input features, then one
per Linear layer with the activation after it. Each node is a thumbnail of its unit's output over
the plot domain, in the decision boundary's colour map (so the output unit looks like the main
plot); a small square at its lower left is its bias, coloured by sign. Links are curves between
consecutive columns, blue for a positive weight and orange for a negative one (the class colours,
as in TF Playground), their width following |w| scaled to the layer's largest.

Speed (the view is redrawn at the snapshot rate, ~30 Hz): every drawn thing is a plain Qt item
that Qt paints without calling Python; a snapshot sets pixmaps on the nodes and, for links, only
the pens whose (sign, width step) changed, picked from a table of pens made once. Hover and
clicks are found by one scene query and a vectorised distance to sampled link curves, never by
per-item Python event handlers.

Wide layers: a column draws at most ``max_units`` nodes (16 by default) and a "+ k more" node;
clicking it pages through the rest, so a 256-unit layer reads as pages of 16 and at most
``max_units²`` links are drawn between two columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from .plots import BOUNDARY_MAP, CLASS0, CLASS1

if TYPE_CHECKING:
    from playground.insight import Column

__all__ = ["NetworkView"]

NEGATIVE, POSITIVE = CLASS0, CLASS1  # TF Playground: orange below zero, blue above
NEUTRAL = QColor(150, 150, 150)
WIDTH_STEPS = 12  # link widths are drawn in this many steps, so pens are made once
MIN_LINK_WIDTH, MAX_LINK_WIDTH = 0.4, 6.0
LUT_SIZE = 1024  # the boundary plot's lookup table size
CURVE_SAMPLES = 64  # samples of a link curve's x(t), to find t under the mouse
HIT_DISTANCE = 4.0  # pixels from a link's centre line that still hover it
BIAS_SIZE = 7
HEADER_HEIGHT = 36
COLUMN_GAP = 120  # horizontal room for the links between two columns
LABEL_ROOM = 46  # left of the input nodes, for the feature names
CURVED_LINKS = 400  # up to this many links are smooth curves, more are straight lines
DENSE_UNITS = 6  # links between columns of more units than this get thinner, in proportion
MIN_FIT_SCALE = 0.6  # a network wider than the dock is shrunk to fit, down to this scale
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

# boundary colours packed as 32-bit 0xffRRGGBB, for QImage.Format_RGB32
_LUT = BOUNDARY_MAP.getLookupTable(0.0, 1.0, LUT_SIZE, alpha=False).astype(np.uint32)
_LUT32 = (0xFF000000 | (_LUT[:, 0] << 16) | (_LUT[:, 1] << 8) | _LUT[:, 2]).astype(np.uint32)


def map_colours(maps: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """Maps (units, size, size), rows along x₂, as 0xffRRGGBB images with x₂ upwards.

    The boundary plot's colouring: ``levels`` (low, high) stretched over its colour map, values
    outside clipped, NaN drawn as the middle (undecided) colour.
    """
    low, high = levels
    span = high - low if high > low else 1.0
    scaled = (np.asarray(maps, dtype=np.float64) - low) / span
    scaled = np.nan_to_num(scaled, nan=0.5, posinf=1.0, neginf=0.0)
    index = np.clip(np.rint(scaled * (LUT_SIZE - 1)), 0, LUT_SIZE - 1).astype(np.intp)
    return np.ascontiguousarray(_LUT32[index][:, ::-1, :])  # row 0 = the top = the largest x₂


def link_scale(sources: int, targets: int) -> float:
    """How much of the full link width range a gap of ``sources`` x ``targets`` drawn units
    uses: all of it up to DENSE_UNITS units a side, less in proportion beyond, so 16 x 16
    links still show their weights instead of one blot."""
    return round(min(1.0, DENSE_UNITS / max(sources, targets, 1)), 2)


def _blend(colour: QColor, t: float, base: QColor) -> QColor:
    """``base`` moved a fraction ``t`` (0..1) of the way to ``colour``."""
    t = min(max(t, 0.0), 1.0)
    return QColor(
        round(base.red() + (colour.red() - base.red()) * t),
        round(base.green() + (colour.green() - base.green()) * t),
        round(base.blue() + (colour.blue() - base.blue()) * t),
    )


def _subscript(n: int) -> str:
    return str(n).translate(_SUBSCRIPTS)


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _auto_levels(column: Any, maps: np.ndarray) -> tuple[float, float]:
    """A column's own levels: (0, 1) after a sigmoid (a probability), else ±max|value| so that
    zero is the neutral colour, as TF Playground colours its nodes."""
    if column.activation == "sigmoid":
        return (0.0, 1.0)
    finite = np.abs(maps[np.isfinite(maps)])
    peak = float(finite.max()) if finite.size else 0.0
    peak = peak if peak > 0 else 1.0
    return (-peak, peak)


class _Canvas(QGraphicsView):
    """The scene's view; passes mouse moves, clicks and leaving on to the network view."""

    def __init__(self, owner: NetworkView) -> None:
        super().__init__(owner)
        self._owner = owner
        self.setObjectName("network_canvas")
        self.setMouseTracking(True)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp maps
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        self._owner._hover_at(self.mapToScene(event.position().toPoint()), event.position())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        scene_pos = self.mapToScene(event.position().toPoint())
        if not self._owner._click_at(scene_pos, event.position(), event.button()):
            super().mousePressEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self._owner._hover_at(None, None)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._owner._fit_width()


class NetworkView(QWidget):
    """Nodes with live maps, links and biases of a layer stack; hover to read, click to edit.

    Signals: ``unitHovered(column, unit)`` ((-1, -1) when the mouse leaves units),
    ``parameterEdited(key, index, value)`` (a typed weight ``(j, i)`` or bias ``(j,)``),
    ``unitToggled(column, unit, enabled)`` (right click on a unit), ``columnSelected(column)``
    (click on a column's title).
    """

    unitHovered = Signal(int, int)
    parameterEdited = Signal(str, object, float)
    unitToggled = Signal(int, int, bool)
    columnSelected = Signal(int)

    def __init__(
        self, parent: QWidget | None = None, *, max_units: int = 16, node_size: int = 40
    ) -> None:
        super().__init__(parent)
        if max_units < 1 or node_size < 8:
            raise ValueError("max_units must be >= 1 and node_size >= 8")
        self.setObjectName("network_view")
        self.setMinimumSize(320, 240)
        self.max_units = max_units
        self.node_size = node_size
        self.legend = QLabel(self)
        self.legend.setObjectName("network_links_legend")
        self.legend.setWordWrap(True)
        self.scene = QGraphicsScene(self)
        # no BSP index: a snapshot changes hundreds of pens (bounds), each an index update,
        # while a linear scan of a few thousand items per mouse move or paint costs less
        self.scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.canvas = _Canvas(self)
        self.canvas.setScene(self.scene)
        self.canvas.setToolTip(
            "Hover a unit, a link or a bias to read it; right-click a unit to switch it off; "
            "click a column's title for its maths"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.canvas, 1)

        self.card = QLabel(self)  # TF Playground's hover card
        self.card.setObjectName("network_hover_card")
        self.card.setTextFormat(Qt.TextFormat.PlainText)
        self.card.setFrameShape(QFrame.Shape.Box)
        self.card.setAutoFillBackground(True)
        self.card.setMargin(4)
        self.card.hide()
        self.editor = QLineEdit(self)
        self.editor.setObjectName("network_value_editor")
        self.editor.setToolTip("Type a new value and press Enter (Escape cancels)")
        self.editor.setFixedWidth(110)
        self.editor.returnPressed.connect(self._commit_edit)
        self.editor.installEventFilter(self)
        self.editor.hide()
        self.edit_message = QLabel(self)
        self.edit_message.setObjectName("network_edit_message")
        self.edit_message.setAutoFillBackground(True)
        self.edit_message.hide()

        self._columns: list[Any] = []
        self._offsets: list[int] = []
        self._maps: list[np.ndarray] | None = None
        self._levels: tuple[float, float] | None = None
        self._weights: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] | None = None
        self._grad_point: tuple[float, float] | None = None
        self._activations: list[np.ndarray] | None = None
        self._disabled: frozenset[tuple[int, int]] = frozenset()
        self._editable = False
        self._hover: tuple[Any, ...] | None = None
        self._hovered_unit = (-1, -1)
        self._editing: tuple[str, tuple[int, ...]] | None = None
        self.curved_links = True
        self._make_pens()
        self._clear_items()
        self._show_legend()
        self._apply_palette()

    # -- public API --------------------------------------------------------------------------

    def set_structure(self, columns: Sequence[Column]) -> None:
        """Draw a new network: its columns (playground.insight.columns); values are cleared."""
        self._columns = list(columns)
        self._offsets = [0] * len(self._columns)
        self._maps = None
        self._weights = {}
        self._grads = None
        self._activations = None
        self._disabled = frozenset()
        self._close_editor()
        self._build()

    def set_maps(self, maps: list[np.ndarray], levels: tuple[float, float] | None) -> None:
        """Show each unit's map: one (units, size, size) array per column, rows along x₂.

        ``levels`` (low, high) colour every column like the boundary plot; None gives each
        column its own (0..1 after a sigmoid, else symmetric around zero).
        """
        if len(maps) != len(self._columns):
            raise ValueError(f"{len(maps)} maps for {len(self._columns)} columns")
        self._maps = maps
        self._levels = levels
        for c, column in enumerate(self._columns):
            self._show_column_maps(c, column, np.asarray(maps[c]))
        self._refresh_card()

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Show the current weights and biases (state-dict keys, as in a Snapshot)."""
        self._weights = weights
        if self._grads is None:
            self._show_links(weights)
        self._refresh_card()

    def set_link_gradients(
        self, grads: dict[str, np.ndarray] | None, point: tuple[float, float] | None = None
    ) -> None:
        """Show one point's gradients dLoss/dparameter on links and biases; None: the weights."""
        self._grads = grads
        self._grad_point = point if grads is not None else None
        self._show_links(grads if grads is not None else self._weights)
        self._show_legend()
        self._refresh_card()

    def set_activations(self, values: list[np.ndarray] | None) -> None:
        """Show each unit's activation for one data point (one (units,) array per column)."""
        self._activations = values
        for c in range(len(self._columns)):
            self._show_column_activations(c)
        self._refresh_card()

    def set_disabled(self, units: Iterable[tuple[int, int]]) -> None:
        """Draw these (column, unit) switched off (greyed and crossed), every other unit on."""
        self._disabled = frozenset((int(c), int(u)) for c, u in units)
        for c, column_nodes in enumerate(self._nodes):
            for slot, node in enumerate(column_nodes):
                off = (c, self._offsets[c] + slot) in self._disabled
                node.setOpacity(0.3 if off else 1.0)
                self._crosses[c][slot].setVisible(off)
        self._refresh_card()

    def set_editable(self, editable: bool) -> None:
        """Let clicks on links and biases edit them (the window allows it while paused)."""
        self._editable = editable
        if not editable:
            self._close_editor()
        self._refresh_card()

    # -- for tests and the window: what is drawn -----------------------------------------------

    def node_item(self, column: int, unit: int) -> QGraphicsPixmapItem | None:
        """The thumbnail item of a unit, None if the unit is not on the page drawn."""
        slot = unit - self._offsets[column]
        nodes = self._nodes[column]
        return nodes[slot] if 0 <= slot < len(nodes) else None

    def bias_item(self, column: int, unit: int) -> QGraphicsRectItem | None:
        """The bias mark of a unit (None for inputs and units not drawn)."""
        slot = unit - self._offsets[column]
        marks = self._biases[column]
        return marks[slot] if 0 <= slot < len(marks) else None

    def link_item(self, column: int, unit: int, source: int) -> QGraphicsPathItem | None:
        """The link drawing weight W[unit, source] into ``column`` (None if not drawn)."""
        gap = self._gaps[column]
        if gap is None:
            return None
        j, i = unit - self._offsets[column], source - self._offsets[column - 1]
        rows, cols = gap["shape"]
        if not (0 <= j < rows and 0 <= i < cols):
            return None
        return gap["items"][j * cols + i]

    def header_item(self, column: int) -> QGraphicsSimpleTextItem:
        """A column's clickable title."""
        return self._headers[column]

    def more_item(self, column: int) -> QGraphicsRectItem | None:
        """A wide column's "+ k more" node (None when every unit is drawn)."""
        return self._more[column]

    def link_count(self) -> int:
        """How many links are drawn."""
        return sum(len(gap["items"]) for gap in self._gaps if gap is not None)

    def hover_text(self) -> str:
        """The hover card's text ('' when nothing is hovered)."""
        return self.card.text() if self.card.isVisible() else ""

    def scene_to_view(self, point: QPointF) -> QPoint:
        """A scene point in the canvas viewport's coordinates (to aim mouse events)."""
        return self.canvas.mapFromScene(point)

    # -- building the scene --------------------------------------------------------------------

    def _make_pens(self) -> None:
        self._pen_tables: dict[float, list[QPen]] = {}
        self._pens = self._pen_table(1.0)
        self._unknown_pen = len(self._pens) - 1

    def _pen_table(self, scale: float) -> list[QPen]:
        """The link pens (negative steps, positive steps, not finite) for widths times
        ``scale``; made once per scale, so a snapshot only picks pens."""
        table = self._pen_tables.get(scale)
        if table is None:
            table = []
            top = MIN_LINK_WIDTH + (MAX_LINK_WIDTH - MIN_LINK_WIDTH) * scale
            for colour in (NEGATIVE, POSITIVE):
                for step in range(WIDTH_STEPS):
                    width = MIN_LINK_WIDTH + (top - MIN_LINK_WIDTH) * step / (WIDTH_STEPS - 1)
                    pen = QPen(colour, width)  # opaque: Qt's raster blends alpha ~3x slower
                    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
                    table.append(pen)
            table.append(QPen(NEUTRAL, MIN_LINK_WIDTH, Qt.PenStyle.DotLine))  # not finite
            self._pen_tables[scale] = table
        return table

    def _fit_width(self) -> None:
        """Shrink the drawing to the dock's width (not below MIN_FIT_SCALE; then it scrolls)."""
        wide = self.scene.sceneRect().width() + 4
        room = self.canvas.viewport().width()
        scale = 1.0 if wide <= 0 else min(1.0, max(MIN_FIT_SCALE, room / wide))
        self.canvas.setTransform(QTransform.fromScale(scale, scale))


    def _clear_items(self) -> None:
        self.scene.clear()
        self._nodes: list[list[QGraphicsPixmapItem]] = []
        self._frames: list[list[QGraphicsRectItem]] = []
        self._biases: list[list[QGraphicsRectItem]] = []
        self._labels: list[list[QGraphicsSimpleTextItem]] = []
        self._crosses: list[list[QGraphicsPathItem]] = []
        self._headers: list[QGraphicsSimpleTextItem] = []
        self._more: list[QGraphicsRectItem | None] = []
        self._gaps: list[dict[str, Any] | None] = []
        self._text_items: list[QGraphicsSimpleTextItem] = []

    def _column_x(self, c: int) -> float:
        return LABEL_ROOM + c * (self.node_size + COLUMN_GAP)

    def _shown(self, c: int) -> int:
        return max(0, min(self.max_units, self._columns[c].units - self._offsets[c]))

    def _build(self) -> None:
        """(Re)make every item for the columns and the pages shown, then re-show the values."""
        self._hover_at(None, None)
        self._clear_items()
        size, pitch = self.node_size, self.node_size + 12
        heights = []
        for c, column in enumerate(self._columns):
            more = column.units > self.max_units
            heights.append(self._shown(c) * pitch + (pitch if more else 0))
        tallest = max(heights, default=0)
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.75))
        centres: list[np.ndarray] = []
        for c, column in enumerate(self._columns):
            x = self._column_x(c)
            top = HEADER_HEIGHT + (tallest - heights[c]) / 2
            header = self.scene.addSimpleText(column.title.replace(" + ", "\n+ "), small)
            header.setPos(x + size / 2 - header.boundingRect().width() / 2, 2)
            header.setData(0, ("header", c))
            header.setToolTip(f"{column.title}: click for this layer's maths")
            header.setCursor(Qt.CursorShape.PointingHandCursor)
            self._headers.append(header)
            self._text_items.append(header)
            nodes, frames, biases, labels, crosses, ys = [], [], [], [], [], []
            for slot in range(self._shown(c)):
                unit = self._offsets[c] + slot
                y = top + slot * pitch
                ys.append(y + size / 2)
                node = QGraphicsPixmapItem()
                node.setTransformationMode(Qt.TransformationMode.FastTransformation)
                node.setPos(x, y)
                node.setData(0, ("unit", c, unit))
                node.setZValue(2)
                self.scene.addItem(node)
                frame = self.scene.addRect(QRectF(x, y, size, size), QPen(NEUTRAL, 1))
                frame.setZValue(3)
                frame.setData(0, ("unit", c, unit))
                cross = QPainterPath(QPointF(x, y))
                cross.lineTo(x + size, y + size)
                cross.moveTo(x + size, y)
                cross.lineTo(x, y + size)
                cross_item = self.scene.addPath(cross, QPen(QColor(200, 40, 40), 2))
                cross_item.setZValue(4)
                cross_item.setVisible(False)
                label = self.scene.addSimpleText("", small)
                label.setPos(x, y + size + 1)
                label.setZValue(3)
                self._text_items.append(label)
                if c == 0:
                    name = self.scene.addSimpleText(column.names[unit], small)
                    rect = name.boundingRect()
                    name.setPos(x - rect.width() - 5, y + size / 2 - rect.height() / 2)
                    name.setData(0, ("unit", c, unit))
                    self._text_items.append(name)
                else:
                    bias = self.scene.addRect(
                        QRectF(x - BIAS_SIZE - 2, y + size - BIAS_SIZE, BIAS_SIZE, BIAS_SIZE),
                        QPen(NEUTRAL, 0.8),
                        QBrush(NEUTRAL),
                    )
                    bias.setZValue(5)
                    bias.setData(0, ("bias", c, unit))
                    biases.append(bias)
                nodes.append(node)
                frames.append(frame)
                labels.append(label)
                crosses.append(cross_item)
            more_item = None
            if column.units > self.max_units:
                first = self._offsets[c] + 1
                last = self._offsets[c] + self._shown(c)
                rest = column.units - self._shown(c)
                y = top + self._shown(c) * pitch
                more_item = self.scene.addRect(
                    QRectF(x - 6, y, size + 12, size * 0.8), QPen(NEUTRAL, 1, Qt.PenStyle.DashLine)
                )
                more_item.setData(0, ("more", c))
                more_item.setToolTip(
                    f"Units {first}–{last} of {column.units} are drawn; click for the next "
                    f"{self.max_units}"
                )
                more_item.setCursor(Qt.CursorShape.PointingHandCursor)
                text = self.scene.addSimpleText(f"+{rest}\nmore", small)
                rect = text.boundingRect()
                text.setPos(x + size / 2 - rect.width() / 2, y + size * 0.4 - rect.height() / 2)
                text.setData(0, ("more", c))
                self._text_items.append(text)
            self._more.append(more_item)
            self._nodes.append(nodes)
            self._frames.append(frames)
            self._biases.append(biases)
            self._labels.append(labels)
            self._crosses.append(crosses)
            centres.append(np.array(ys, dtype=np.float64))
        # many links: straight and unsmoothed, ~10x cheaper to paint than smooth curves
        total = sum(len(centres[c - 1]) * len(centres[c]) for c in range(1, len(centres)))
        self.curved_links = total <= CURVED_LINKS
        self.canvas.setRenderHint(QPainter.RenderHint.Antialiasing, self.curved_links)
        for c, column in enumerate(self._columns):
            self._gaps.append(
                self._make_links(c, centres[c - 1], centres[c])
                if c > 0 and column.weight_key
                else None
            )
        bounds = self.scene.itemsBoundingRect().adjusted(-8, -4, 12, 12)
        self.scene.setSceneRect(bounds)
        self._apply_palette()
        self._restore_values()
        self._fit_width()

    def _make_links(self, c: int, source_ys: np.ndarray, target_ys: np.ndarray) -> dict[str, Any]:
        """Curves from every drawn unit of column c-1 to every drawn unit of column c."""
        x0 = self._column_x(c - 1) + self.node_size
        x1 = self._column_x(c) - BIAS_SIZE - 3
        xm = (x0 + x1) / 2
        pens = self._pen_table(link_scale(len(source_ys), len(target_ys)))
        items = []
        for y1 in target_ys:
            for y0 in source_ys:
                path = QPainterPath(QPointF(x0, y0))
                if self.curved_links:
                    path.cubicTo(QPointF(xm, y0), QPointF(xm, y1), QPointF(x1, y1))
                else:
                    path.lineTo(x1, y1)
                item = QGraphicsPathItem(path)
                item.setPen(self._pens[self._unknown_pen])
                item.setZValue(1)
                self.scene.addItem(item)
                items.append(item)
        return {
            "items": items,
            "shape": (len(target_ys), len(source_ys)),
            "y0": np.tile(source_ys, len(target_ys)),  # per link, in the items' order
            "y1": np.repeat(target_ys, len(source_ys)),
            "x": (x0, xm, x1),
            "steps": np.full(len(items), -1, dtype=np.intp),
            "pens": pens,
        }

    def _restore_values(self) -> None:
        """Show the stored maps, weights, activations and switched-off units on new items."""
        if self._maps is not None:
            self.set_maps(self._maps, self._levels)
        self._show_links(self._grads if self._grads is not None else self._weights)
        self.set_activations(self._activations)
        self.set_disabled(self._disabled)

    # -- showing values ------------------------------------------------------------------------

    def _show_column_maps(self, c: int, column: Any, maps: np.ndarray) -> None:
        nodes = self._nodes[c]
        if not nodes:
            return
        if maps.ndim != 3 or maps.shape[0] != column.units or maps.shape[1] != maps.shape[2]:
            raise ValueError(
                f"column {c} ({column.title}): maps of shape {maps.shape}, expected "
                f"({column.units}, size, size)"
            )
        levels = self._levels if self._levels is not None else _auto_levels(column, maps)
        first = self._offsets[c]
        images = map_colours(maps[first : first + len(nodes)], levels)
        size = images.shape[1]
        scale = self.node_size / size
        for node, image in zip(nodes, images, strict=True):
            qimage = QImage(image.data, size, size, 4 * size, QImage.Format.Format_RGB32)
            node.setPixmap(QPixmap.fromImage(qimage))  # copies: the array may go
            if node.scale() != scale:
                node.setScale(scale)

    def _show_links(self, values: dict[str, np.ndarray]) -> None:
        """Pens of links (sign, |value| to the layer's max) and brushes of bias marks."""
        for c, column in enumerate(self._columns):
            gap = self._gaps[c] if c < len(self._gaps) else None
            if gap is not None:
                self._show_gap(c, gap, values.get(column.weight_key))
            self._show_biases(c, values.get(column.bias_key) if column.bias_key else None)

    def _show_gap(self, c: int, gap: dict[str, Any], matrix: np.ndarray | None) -> None:
        rows, cols = gap["shape"]
        if matrix is None:
            steps = np.full(rows * cols, self._unknown_pen, dtype=np.intp)
        else:
            matrix = np.asarray(matrix, dtype=np.float64)
            j0, i0 = self._offsets[c], self._offsets[c - 1]
            shown = matrix[j0 : j0 + rows, i0 : i0 + cols].ravel()
            finite = np.abs(matrix[np.isfinite(matrix)])
            peak = float(finite.max()) if finite.size else 0.0
            with np.errstate(invalid="ignore", divide="ignore"):
                scaled = np.abs(shown) / (peak if peak > 0 else 1.0)
            width = np.clip(np.rint(np.nan_to_num(scaled) * (WIDTH_STEPS - 1)), 0, WIDTH_STEPS - 1)
            steps = (shown > 0) * WIDTH_STEPS + width.astype(np.intp)
            steps[~np.isfinite(shown)] = self._unknown_pen
        changed = np.flatnonzero(steps != gap["steps"])
        items, pens = gap["items"], gap["pens"]
        for k in changed.tolist():
            items[k].setPen(pens[steps[k]])
        gap["steps"] = steps

    def _show_biases(self, c: int, bias: np.ndarray | None) -> None:
        marks = self._biases[c]
        if not marks:
            return
        base = self.palette().color(QPalette.ColorRole.Base)
        values = np.asarray(bias, dtype=np.float64) if bias is not None else None
        peak = 1.0
        if values is not None and self._grads is not None:  # gradients: to the layer's max
            finite = np.abs(values[np.isfinite(values)])
            peak = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        for slot, mark in enumerate(marks):
            unit = self._offsets[c] + slot
            if values is None or unit >= len(values) or not math.isfinite(values[unit]):
                mark.setBrush(QBrush(NEUTRAL, Qt.BrushStyle.Dense5Pattern))
                continue
            value = float(values[unit])
            colour = POSITIVE if value > 0 else NEGATIVE
            mark.setBrush(_blend(colour, 0.25 + 0.75 * min(abs(value) / peak, 1.0), base))

    def _show_column_activations(self, c: int) -> None:
        values = None
        if self._activations is not None and c < len(self._activations):
            values = np.asarray(self._activations[c], dtype=np.float64)
        frames, labels = self._frames[c], self._labels[c]
        if values is None:
            for frame, label in zip(frames, labels, strict=True):
                frame.setPen(QPen(NEUTRAL, 1))
                label.setText("")
                label.setVisible(False)  # an empty text item still costs a paint call
            return
        finite = np.abs(values[np.isfinite(values)])
        peak = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        base = self.palette().color(QPalette.ColorRole.Base)
        for slot, (frame, label) in enumerate(zip(frames, labels, strict=True)):
            label.setVisible(True)
            unit = self._offsets[c] + slot
            value = float(values[unit]) if unit < len(values) else math.nan
            if not math.isfinite(value):
                frame.setPen(QPen(NEUTRAL, 1, Qt.PenStyle.DotLine))
                label.setText(_number(value))
                continue
            colour = POSITIVE if value > 0 else NEGATIVE
            frame.setPen(QPen(_blend(colour, 0.3 + 0.7 * abs(value) / peak, base), 3))
            label.setText(f"{value:.3g}")

    def _show_legend(self) -> None:
        if self._grads is None:
            self.legend.setText(
                "Links: weights (blue > 0, orange < 0; width ∝ |w|, per layer). "
                "Squares at the lower left: biases."
            )
            self.legend.setStyleSheet("")
        else:
            where = "the hovered point"
            if self._grad_point is not None:
                where = f"point ({self._grad_point[0]:.3g}, {self._grad_point[1]:.3g})"
            self.legend.setText(f"Links: gradients ∂loss/∂w for {where} (width ∝ |∂loss/∂w|)")
            self.legend.setStyleSheet("QLabel { font-weight: bold; }")

    def _apply_palette(self) -> None:
        palette = self.palette()
        self.scene.setBackgroundBrush(palette.color(QPalette.ColorRole.Base))
        text = QBrush(palette.color(QPalette.ColorRole.Text))
        for item in self._text_items:
            item.setBrush(text)
        self.card.setPalette(palette)
        self.card.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.card.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.edit_message.setBackgroundRole(QPalette.ColorRole.ToolTipBase)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_text_items"):
            self._apply_palette()
            self._restore_values()

    # -- hover ---------------------------------------------------------------------------------

    def _thing_at(self, pos: QPointF) -> tuple[Any, ...] | None:
        """What is under a scene point: a bias, unit, header or "more" node, else a link."""
        probe = QRectF(pos.x() - 2, pos.y() - 2, 4, 4)
        found = [item.data(0) for item in self.scene.items(probe)]
        found = [f for f in found if f is not None]
        for kind in ("bias", "unit", "header", "more"):
            for f in found:
                if f[0] == kind:
                    return tuple(f)
        return self._link_at(pos)

    def _link_at(self, pos: QPointF) -> tuple[Any, ...] | None:
        """The link nearest to a scene point, if within a few pixels of its centre line."""
        for c, gap in enumerate(self._gaps):
            if gap is None or not gap["items"]:
                continue
            x0, xm, x1 = gap["x"]
            if not x0 <= pos.x() <= x1:
                continue
            # every link of a gap shares x(t); find t at the point's x, then each link's y(t)
            # and its slope, for the distance across the line rather than straight down
            if self.curved_links:
                grid = np.linspace(0.0, 1.0, CURVE_SAMPLES)
                xs = (1 - grid) ** 3 * x0 + 3 * (1 - grid) * grid * xm + grid**3 * x1
                t = float(np.interp(pos.x(), xs, grid))
                b, db = 3 * (1 - t) * t**2 + t**3, 6 * t * (1 - t)
                dx = -3 * (1 - t) ** 2 * x0 + 3 * (1 - 2 * t) * xm + 3 * t**2 * x1
            else:
                t = (pos.x() - x0) / (x1 - x0)
                b, db, dx = t, 1.0, x1 - x0
            rise = gap["y1"] - gap["y0"]
            y = gap["y0"] + rise * b
            slope = rise * db / dx if dx > 1e-9 else np.full_like(rise, 1e9)
            distance = np.abs(pos.y() - y) / np.sqrt(1 + slope**2)
            best = int(np.argmin(distance))
            step = gap["steps"][best]
            width = gap["pens"][step].widthF() if step >= 0 else 1
            if distance[best] <= HIT_DISTANCE + width / 2:
                rows, cols = gap["shape"]
                j, i = divmod(best, cols)
                return ("link", c, self._offsets[c] + j, self._offsets[c - 1] + i)
        return None

    def _hover_at(self, pos: QPointF | None, view_pos: QPointF | None) -> None:
        thing = self._thing_at(pos) if pos is not None else None
        self._hover = thing if thing is not None and thing[0] in ("unit", "bias", "link") else None
        unit = (thing[1], thing[2]) if thing is not None and thing[0] == "unit" else (-1, -1)
        if unit != self._hovered_unit:
            self._hovered_unit = unit
            self.unitHovered.emit(*unit)
        if self._hover is None or view_pos is None:
            self.card.hide()
            return
        self._refresh_card()
        corner = self.canvas.mapTo(self, view_pos.toPoint()) + QPoint(14, 14)
        corner.setX(min(corner.x(), max(0, self.width() - self.card.width())))
        corner.setY(min(corner.y(), max(0, self.height() - self.card.height())))
        self.card.move(corner)
        self.card.show()
        self.card.raise_()

    def _refresh_card(self) -> None:
        """Rewrite the hover card from the current values (live while training)."""
        if self._hover is None:
            return
        text = self._describe(self._hover)
        if text != self.card.text():
            self.card.setText(text)
            self.card.adjustSize()

    def _value(self, values: dict[str, np.ndarray] | None, key: str | None, index: tuple) -> str:
        if values is None or key is None or key not in values:
            return "unknown"
        array = np.asarray(values[key])
        try:
            return _number(float(array[index]))
        except IndexError:
            return "unknown"

    def _describe(self, thing: tuple[Any, ...]) -> str:
        kind, c = thing[0], thing[1]
        column = self._columns[c]
        hint = "\n(click to edit)" if self._editable else ""
        if kind == "link":
            j, i = thing[2], thing[3]
            source = self._columns[c - 1].names[i]
            lines = [
                f"Weight {source} → {column.names[j]}  ({column.weight_key}[{j}, {i}])",
                f"w = {self._value(self._weights, column.weight_key, (j, i))}",
            ]
            if self._grads is not None:
                lines.append(f"∂loss/∂w = {self._value(self._grads, column.weight_key, (j, i))}")
            return "\n".join(lines) + hint
        unit = thing[2]
        bias = f"b = {self._value(self._weights, column.bias_key, (unit,))}"
        if kind == "bias":
            lines = [f"Bias of {column.names[unit]}  ({column.bias_key}[{unit}])", bias]
            if self._grads is not None:
                lines.append(f"∂loss/∂b = {self._value(self._grads, column.bias_key, (unit,))}")
            return "\n".join(lines) + hint
        if c == 0:
            lines = [f"{column.names[unit]}: input feature {unit + 1}", column.formula]
        else:
            formula = column.formula.replace("ⱼ", _subscript(unit + 1))
            lines = [f"{column.names[unit]}  ({column.title})", formula]
            if column.bias_key:
                lines.append(bias)
        if self._activations is not None and c < len(self._activations):
            values = self._activations[c]
            if unit < len(values):
                lines.append(f"at the point: {_number(float(values[unit]))}")
        if (c, unit) in self._disabled:
            lines.append("switched off (output held at 0)")
        if c > 0:
            lines.append("right-click: switch " + ("on" if (c, unit) in self._disabled else "off"))
        return "\n".join(lines)

    # -- clicks and editing --------------------------------------------------------------------

    def _click_at(self, pos: QPointF, view_pos: QPointF, button: Qt.MouseButton) -> bool:
        """Act on a click; True when it meant something here."""
        thing = self._thing_at(pos)
        if self.editor.isVisible():
            self._close_editor()
        if thing is None:
            return False
        kind, c = thing[0], thing[1]
        if button == Qt.MouseButton.RightButton and kind == "unit" and c > 0:
            unit = thing[2]
            self.unitToggled.emit(c, unit, (c, unit) in self._disabled)
            return True
        if button != Qt.MouseButton.LeftButton:
            return False
        if kind == "header":
            self.columnSelected.emit(c)
            return True
        if kind == "more":
            self._next_page(c)
            return True
        if kind in ("link", "bias") and self._editable:
            column = self._columns[c]
            if kind == "link":
                key, index = column.weight_key, (thing[2], thing[3])
            else:
                key, index = column.bias_key, (thing[2],)
            self._open_editor(key, index, self.canvas.mapTo(self, view_pos.toPoint()))
            return True
        return False

    def _next_page(self, c: int) -> None:
        units = self._columns[c].units
        self._offsets[c] = self._offsets[c] + self.max_units
        if self._offsets[c] >= units:
            self._offsets[c] = 0
        self._build()

    def _open_editor(self, key: str, index: tuple[int, ...], where: QPoint) -> None:
        self._editing = (key, index)
        self.editor.setText(self._value(self._weights, key, index).replace("unknown", ""))
        self.editor.selectAll()
        self.editor.move(
            min(where.x(), max(0, self.width() - self.editor.width())),
            min(where.y(), max(0, self.height() - 2 * self.editor.height())),
        )
        self.edit_message.hide()
        self.card.hide()
        self.editor.show()
        self.editor.raise_()
        self.editor.setFocus()

    def _commit_edit(self) -> None:
        if self._editing is None:
            return
        text = self.editor.text().strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
            problem = f"'{text}' is not a number: type a value such as 0.5 or -1.2e-3"
        else:
            problem = "" if math.isfinite(value) else f"{text} is not finite: type a finite value"
        if problem:
            self.edit_message.setText(problem)
            self.edit_message.adjustSize()
            self.edit_message.move(self.editor.x(), self.editor.y() + self.editor.height() + 2)
            self.edit_message.show()
            self.edit_message.raise_()
            return
        key, index = self._editing
        self._close_editor()
        self.parameterEdited.emit(key, index, value)

    def _close_editor(self) -> None:
        self._editing = None
        self.editor.hide()
        self.edit_message.hide()

    def eventFilter(self, watched: Any, event: QEvent) -> bool:
        if (
            watched is self.editor
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Escape
        ):
            self._close_editor()
            return True
        return super().eventFilter(watched, event)
