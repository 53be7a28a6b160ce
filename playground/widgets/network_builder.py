"""The network builder: a palette of layer types dragged onto a layer stack, every edit undoable.

``LayerStackModel`` is the stack as a Qt list model over ``LayerSpec`` values; each change (add,
remove, move, edit, replace) is proposed to its ``editor`` as the new list of layers: in the
window, an undoable edit of the document (so Ctrl+Z undoes drops and drags alike, in one history
with the other edits); on its own, one ``QUndoCommand`` on its ``QUndoStack``.
``LayerStackView`` shows it, takes drops from ``LayerPalette`` and from itself, and removes
with Delete or the context menu. ``NetworkBuilder`` puts them together with the input line,
the parameter count and the stack's problems, shown before anyone presses Play.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDrag,
    QFont,
    QKeySequence,
    QPainter,
    QPalette,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from ..experiment import (
    FEATURE_LABELS,
    LAYER_KINDS,
    LAYER_TITLES,
    MAX_UNITS,
    LayerShape,
    LayerSpec,
    NetworkSpec,
)
from .icons import icon

__all__ = [
    "MIME_LAYER_KIND",
    "MIME_STACK_ROW",
    "LayerPalette",
    "LayerStackModel",
    "LayerStackView",
    "NetworkBuilder",
]

MIME_LAYER_KIND = "application/x-minidl-playground-layer-kind"
"""Mime type of a palette drag: the layer kind as UTF-8 text."""
MIME_STACK_ROW = "application/x-minidl-playground-stack-row"
"""Mime type of a drag inside the stack: the source row as text."""

KIND_COLOURS = {
    "linear": QColor(8, 119, 189),
    "relu": QColor(46, 160, 67),
    "leaky_relu": QColor(46, 160, 67),
    "tanh": QColor(120, 90, 200),
    "sigmoid": QColor(120, 90, 200),
    # the ReLU family (their icons' green) and Sine (its icon's orange)
    "elu": QColor(46, 160, 67),
    "gelu": QColor(46, 160, 67),
    "silu": QColor(46, 160, 67),
    "softplus": QColor(46, 160, 67),
    "sine": QColor(212, 118, 44),
    "dropout": QColor(128, 128, 128),
}

LAYER_HELP = {
    "linear": "Fully connected layer: every output is a weighted sum of all inputs plus a bias.",
    "relu": "ReLU: max(0, x). Fast to train; the usual choice for hidden layers.",
    "leaky_relu": "LeakyReLU: x, or slope·x below zero, so units never go fully silent.",
    "tanh": "Tanh: squashes to (-1, 1), centred on zero.",
    "sigmoid": "Sigmoid: squashes to (0, 1); after the output layer it gives a probability.",
    "elu": "ELU: x above zero, eˣ - 1 below (α = 1): smooth, and negative outputs are allowed.",
    "gelu": "GELU: x·Φ(x), Φ the normal distribution's CDF (exact, with erf); transformers' "
    "choice.",
    "silu": "SiLU (swish): x·sigmoid(x), a smooth ReLU that dips slightly below zero.",
    "softplus": "Softplus: log(1 + eˣ), a smooth ReLU that is never quite zero.",
    "sine": "Sine: sin(x); periodic, a favourite for periodic data (checkerboard, spiral).",
    "dropout": "Dropout: while training, zeroes each value with probability p (a regulariser).",
}

ShapeRole = Qt.ItemDataRole.UserRole + 1
"""The layer's LayerShape in the current context (input and output widths)."""
SpecRole = Qt.ItemDataRole.UserRole + 2
"""The row's LayerSpec."""


def _value_text(spec: LayerSpec) -> str:
    if spec.kind == "linear":
        return f"{spec.units} units"
    if spec.kind == "leaky_relu":
        return f"slope {spec.slope:g}"
    if spec.kind == "dropout":
        return f"p = {spec.p:g}"
    return ""


# ---------------------------------------------------------------------------------------------
# The one undo command of a builder on its own (in the window, the document's edits are used)
# ---------------------------------------------------------------------------------------------


class _LayersEdit(QUndoCommand):
    """One edit of the stack as a whole list before and after; the model shows the difference."""

    def __init__(
        self, model: LayerStackModel, old: list[LayerSpec], new: list[LayerSpec], text: str
    ) -> None:
        super().__init__(text)
        self._model, self._old, self._new = model, list(old), list(new)

    def redo(self) -> None:
        self._model.show_layers(self._new)

    def undo(self) -> None:
        self._model.show_layers(self._old)


def _single_change(old: list[LayerSpec], new: list[LayerSpec]) -> tuple | None:
    """The one row operation that turns ``old`` into ``new``, if there is one.

    ("insert", row, spec), ("remove", row), ("set", row, spec) or ("move", source, target);
    None when the lists are equal or differ by more than one operation.
    """
    if len(new) == len(old) + 1:
        row = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), len(old))
        return ("insert", row, new[row]) if old[:row] + [new[row]] + old[row:] == new else None
    if len(new) == len(old) - 1:
        row = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), len(new))
        return ("remove", row) if old[:row] + old[row + 1 :] == new else None
    if len(new) != len(old):
        return None
    differ = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    if not differ:
        return None
    if len(differ) == 1:
        return ("set", differ[0], new[differ[0]])
    first, last = differ[0], differ[-1]
    for source, target in ((first, last), (last, first)):
        moved = list(old)
        moved.insert(target, moved.pop(source))
        if moved == new:
            return ("move", source, target)
    return None


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


class LayerStackModel(QAbstractListModel):
    """The layer stack as a list model; its public edits are proposals to ``editor``.

    An edit (add, remove, move, change a setting, replace) computes the new list of layers and
    hands it, with its undo text, to ``editor``. On its own the model's editor pushes one undo
    command on its stack; in the window the editor is the document's (an undoable ``Edit`` of
    the experiment), and the window shows the result with ``show_layers``. ``network_changed``
    fires after every change, done, undone or redone.
    """

    network_changed = Signal()

    def __init__(self, undo_stack: QUndoStack, parent: Any = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.editor: Callable[[list[LayerSpec], str], None] = self._push_edit
        """Who makes an edit: ``editor(new_layers, undo_text)``."""
        self._layers: list[LayerSpec] = []
        self._in_width = 2
        self._out_width = 1
        self._shapes: list[LayerShape] = []

    # -- reading ------------------------------------------------------------------------------

    def layers(self) -> list[LayerSpec]:
        """The stack's layers, first first."""
        return list(self._layers)

    def layer(self, row: int) -> LayerSpec:
        """The layer at ``row``."""
        return self._layers[row]

    def network(self) -> NetworkSpec:
        """The stack as a NetworkSpec."""
        return NetworkSpec(tuple(self._layers))

    def set_io_widths(self, in_width: int, out_width: int) -> None:
        """Set the input width (the features) and the output width (the loss's) to show."""
        if (in_width, out_width) != (self._in_width, self._out_width):
            self._in_width, self._out_width = in_width, out_width
            self._refresh_shapes()
            if self._layers:
                self.dataChanged.emit(self.index(0), self.index(len(self._layers) - 1))

    def shapes(self) -> list[LayerShape]:
        """Each layer's widths and parameter count in the current context."""
        return list(self._shapes)

    def parameter_count(self) -> int:
        """Total weights and biases of the stack in the current context."""
        return sum(s.parameters for s in self._shapes)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._layers)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._layers):
            return None
        spec = self._layers[index.row()]
        shape = self._shapes[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = "" if shape.is_output else _value_text(spec)
            return f"{spec.title} {value}".strip()
        if role == Qt.ItemDataRole.EditRole:
            return spec.value
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = LAYER_HELP.get(spec.kind, "")
            if shape.is_output:
                tip += "\nThe last Linear is the output layer: its width follows the loss."
            elif spec.value is not None:
                tip += "\nDouble-click (or F2) to edit; Delete removes; drag to reorder."
            return tip
        if role == Qt.ItemDataRole.DecorationRole:
            return icon(spec.kind)
        if role == ShapeRole:
            return shape
        if role == SpecRole:
            return spec
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        flags = (
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        )
        if self.is_editable(index.row()):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def is_editable(self, row: int) -> bool:
        """Whether the row has a setting the user can change (the output width has none)."""
        spec, shape = self._layers[row], self._shapes[row]
        return spec.value is not None and not shape.is_output

    def setData(
        self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = 2
    ) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        if not self.is_editable(index.row()):
            return False
        try:
            new = self._layers[index.row()].with_value(value)
        except (TypeError, ValueError):
            return False
        if new.problem() is not None:
            return False
        return self.edit_layer(index.row(), new)

    # -- drag and drop --------------------------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return [MIME_LAYER_KIND, MIME_STACK_ROW]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        mime = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        if rows:
            mime.setData(MIME_STACK_ROW, QByteArray(str(rows[0]).encode()))
        return mime

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def canDropMimeData(
        self, data: QMimeData, action: Any, row: int, column: int, parent: Any
    ) -> bool:
        return data.hasFormat(MIME_LAYER_KIND) or data.hasFormat(MIME_STACK_ROW)

    def dropMimeData(
        self, data: QMimeData, action: Any, row: int, column: int, parent: Any
    ) -> bool:
        if row < 0:
            row = parent.row() if parent.isValid() else len(self._layers)
        return self.drop(data, row)

    def drop(self, data: QMimeData, row: int) -> bool:
        """Handle a drop before ``row``: a palette kind is inserted, a stack row moved there."""
        row = max(0, min(row, len(self._layers)))
        if data.hasFormat(MIME_LAYER_KIND):
            kind = bytes(data.data(MIME_LAYER_KIND).data()).decode(errors="replace")
            if kind not in LAYER_KINDS:
                return False
            return self.insert_layer(row, LayerSpec.make(kind))
        if data.hasFormat(MIME_STACK_ROW):
            try:
                source = int(bytes(data.data(MIME_STACK_ROW).data()).decode())
            except ValueError:
                return False
            if not 0 <= source < len(self._layers):
                return False
            target = row if row <= source else row - 1
            return self.move_layer(source, target)
        return False

    # -- undoable edits ---------------------------------------------------------------------

    def insert_layer(self, row: int, spec: LayerSpec) -> bool:
        """Insert ``spec`` before ``row`` (len() appends)."""
        if not 0 <= row <= len(self._layers):
            return False
        self.editor([*self._layers[:row], spec, *self._layers[row:]], f"Add {spec.title}")
        return True

    def remove_layer(self, row: int) -> bool:
        """Remove the layer at ``row``."""
        if not 0 <= row < len(self._layers):
            return False
        title = self._layers[row].title
        self.editor(self._layers[:row] + self._layers[row + 1 :], f"Remove {title}")
        return True

    def move_layer(self, source: int, target: int) -> bool:
        """Move the layer at ``source`` so it ends up at index ``target``."""
        n = len(self._layers)
        if not (0 <= source < n and 0 <= target < n) or source == target:
            return False
        layers = list(self._layers)
        layers.insert(target, layers.pop(source))
        self.editor(layers, f"Move {self._layers[source].title}")
        return True

    def edit_layer(self, row: int, spec: LayerSpec) -> bool:
        """Replace the layer at ``row`` with ``spec`` (its setting changed)."""
        if not 0 <= row < len(self._layers) or self._layers[row] == spec:
            return False
        layers = list(self._layers)
        layers[row] = spec
        self.editor(layers, f"Change {spec.title} to {_value_text(spec)}")
        return True

    def replace_layers(self, layers: list[LayerSpec], text: str = "Replace network") -> None:
        """Replace the whole stack (an import, say) as one undoable step."""
        self.editor(list(layers), text)

    def set_layers_without_undo(self, layers: list[LayerSpec]) -> None:
        """Load a stack as the starting point: no undo entry (used at start-up)."""
        self._reset(list(layers))

    def show_layers(self, layers: list[LayerSpec]) -> None:
        """Show ``layers`` (an edit done or undone): one row inserted, removed, moved or changed
        where that is the difference, so the view keeps its place; else the whole list."""
        layers = list(layers)
        change = _single_change(self._layers, layers)
        if change is None:
            if layers != self._layers:
                self._reset(layers)
        elif change[0] == "insert":
            self._insert(change[1], change[2])
        elif change[0] == "remove":
            self._remove(change[1])
        elif change[0] == "set":
            self._set(change[1], change[2])
        else:
            self._move(change[1], change[2])

    def _push_edit(self, layers: list[LayerSpec], text: str) -> None:
        """The editor of a model on its own: one undo command on its stack."""
        if layers != self._layers:
            self.undo_stack.push(_LayersEdit(self, self._layers, layers, text))

    # -- raw operations (only show_layers and the start-up call these) ----------------------

    def _refresh_shapes(self) -> None:
        self._shapes = self.network().shapes(self._in_width, self._out_width)

    def _changed(self) -> None:
        self._refresh_shapes()
        if self._layers:
            self.dataChanged.emit(self.index(0), self.index(len(self._layers) - 1))
        self.network_changed.emit()

    def _insert(self, row: int, spec: LayerSpec) -> None:
        self.beginInsertRows(QModelIndex(), row, row)
        self._layers.insert(row, spec)
        self._refresh_shapes()
        self.endInsertRows()
        self._changed()

    def _remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._layers[row]
        self._refresh_shapes()
        self.endRemoveRows()
        self._changed()

    def _move(self, source: int, target: int) -> None:
        # Qt's destination is "insert before this row of the old list"
        destination = target + 1 if target > source else target
        self.beginMoveRows(QModelIndex(), source, source, QModelIndex(), destination)
        self._layers.insert(target, self._layers.pop(source))
        self._refresh_shapes()
        self.endMoveRows()
        self._changed()

    def _set(self, row: int, spec: LayerSpec) -> None:
        self._layers[row] = spec
        self._changed()

    def _reset(self, layers: list[LayerSpec]) -> None:
        self.beginResetModel()
        self._layers = list(layers)
        self._refresh_shapes()
        self.endResetModel()
        self._changed()


# ---------------------------------------------------------------------------------------------
# Painting and editing a row
# ---------------------------------------------------------------------------------------------


class LayerDelegate(QStyledItemDelegate):
    """Draws a layer as a card (colour, name, setting, output shape) and edits it in place."""

    ROW_HEIGHT = 34

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:
        return QSize(200, self.ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        spec: LayerSpec | None = index.data(SpecRole)
        shape: LayerShape | None = index.data(ShapeRole)
        if spec is None or shape is None:
            return
        palette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        base = palette.color(QPalette.ColorRole.Base)
        fill = palette.color(QPalette.ColorRole.Highlight) if selected else base
        if selected:
            fill = QColor(fill)
            fill.setAlpha(60)
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 5, 5)
        colour = KIND_COLOURS.get(spec.kind, QColor("gray"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRect(rect.left(), rect.top(), 6, rect.height()), 3, 3)
        text_colour = palette.color(QPalette.ColorRole.Text)
        x = rect.left() + 14
        title_font = QFont(option.font)
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(text_colour)
        title_rect = QRect(x, rect.top(), rect.width() - x, rect.height())
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignVCenter, spec.title)
        x += painter.fontMetrics().horizontalAdvance(spec.title) + 10
        painter.setFont(option.font)
        detail = "output" if shape.is_output else _value_text(spec)
        muted = QColor(text_colour)
        muted.setAlpha(170)
        painter.setPen(muted)
        right = f"→ (N, {shape.out_width})"
        if shape.parameters:
            right = f"{shape.parameters:,} params   {right}"
        metrics = painter.fontMetrics()
        right_x = rect.right() - 10 - metrics.horizontalAdvance(right)
        painter.drawText(
            rect.adjusted(0, 0, -10, 0),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            right,
        )
        width = max(0, right_x - 8 - x)
        painter.drawText(
            QRect(x, rect.top(), width, rect.height()),
            Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(detail, Qt.TextElideMode.ElideRight, width),
        )
        painter.restore()

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Any) -> QWidget:
        spec: LayerSpec = index.data(SpecRole)
        if spec.kind == "linear":
            editor: QWidget = QSpinBox(parent)
            editor.setRange(1, MAX_UNITS)
            editor.setSuffix(" units")
            editor.setToolTip(f"Number of units, 1 to {MAX_UNITS}")
        else:
            editor = QDoubleSpinBox(parent)
            editor.setDecimals(3)
            editor.setSingleStep(0.01 if spec.kind == "leaky_relu" else 0.05)
            editor.setRange(0.0, 0.99)
            editor.setPrefix("slope " if spec.kind == "leaky_relu" else "p = ")
            editor.setToolTip(
                "Slope below zero, 0 to 0.99"
                if spec.kind == "leaky_relu"
                else "Drop probability while training, 0 to 0.99"
            )
        editor.setObjectName("layer_value_editor")
        editor.setFrame(False)
        return editor

    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: Any
    ) -> None:
        rect = option.rect.adjusted(110, 5, -150, -5)
        editor.setGeometry(rect if rect.width() > 80 else option.rect.adjusted(2, 2, -2, -2))

    def setEditorData(self, editor: QWidget, index: Any) -> None:
        value = index.data(Qt.ItemDataRole.EditRole)
        if value is not None:
            editor.setValue(value)  # type: ignore[attr-defined]

    def setModelData(self, editor: QWidget, model: Any, index: Any) -> None:
        editor.interpretText()  # type: ignore[attr-defined]
        model.setData(index, editor.value(), Qt.ItemDataRole.EditRole)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# The views
# ---------------------------------------------------------------------------------------------


class LayerStackView(QListView):
    """The stack on screen: drop layers from the palette, drag rows to reorder, Delete removes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layer_stack")
        self.setItemDelegate(LayerDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.setSpacing(1)
        self.setToolTip(
            "Drag layers here from the palette. Drag a layer to move it; Delete removes it; "
            "double-click a Linear, LeakyReLU or Dropout to change its setting."
        )
        self.remove_action = QAction("&Remove Layer", self)
        self.remove_action.setObjectName("remove_layer")
        self.remove_action.setShortcuts(
            [QKeySequence(QKeySequence.StandardKey.Delete), QKeySequence(Qt.Key.Key_Backspace)]
        )
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.remove_action.setToolTip("Remove the selected layer (Delete)")
        self.remove_action.triggered.connect(self.remove_current)
        self.addAction(self.remove_action)

    def stack_model(self) -> LayerStackModel:
        """The LayerStackModel shown."""
        model = self.model()
        assert isinstance(model, LayerStackModel)
        return model

    def remove_current(self) -> None:
        """Remove the selected layer, keeping a neighbour selected."""
        row = self.currentIndex().row()
        model = self.stack_model()
        if model.remove_layer(row) and model.rowCount():
            self.setCurrentIndex(model.index(min(row, model.rowCount() - 1)))

    def contextMenuEvent(self, event: Any) -> None:
        index = self.indexAt(event.pos())
        if not index.isValid():
            return
        self.setCurrentIndex(index)
        model, row = self.stack_model(), index.row()
        menu = QMenu(self)
        edit = menu.addAction("Edit…")
        edit.setEnabled(model.is_editable(row))
        edit.triggered.connect(lambda: self.edit(index))
        up = menu.addAction("Move Up")
        up.setEnabled(row > 0)
        up.triggered.connect(lambda: model.move_layer(row, row - 1))
        down = menu.addAction("Move Down")
        down.setEnabled(row < model.rowCount() - 1)
        down.triggered.connect(lambda: model.move_layer(row, row + 1))
        menu.addSeparator()
        menu.addAction(self.remove_action)
        menu.exec(event.globalPos())

    # Dragging is done here rather than by QAbstractItemView, whose move-drag would remove the
    # source rows itself after the drop; our model moves rows through one undoable command.
    def startDrag(self, supported_actions: Any) -> None:
        index = self.currentIndex()
        if not index.isValid():
            return
        drag = QDrag(self)
        drag.setMimeData(self.stack_model().mimeData([index]))
        pixmap = self.viewport().grab(self.visualRect(index))
        drag.setPixmap(pixmap)
        drag.setHotSpot(QPoint(20, pixmap.height() // 2))
        drag.exec(Qt.DropAction.MoveAction)

    def drop_row(self, pos: QPoint) -> int:
        """The row a drop at viewport position ``pos`` inserts before."""
        index = self.indexAt(pos)
        if not index.isValid():
            return self.stack_model().rowCount()
        rect = self.visualRect(index)
        return index.row() + (1 if pos.y() > rect.center().y() else 0)

    def dragEnterEvent(self, event: Any) -> None:
        if self._accepts(event.mimeData()):
            super().dragEnterEvent(event)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if self._accepts(event.mimeData()):
            super().dragMoveEvent(event)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event: Any) -> None:
        mime = event.mimeData()
        row = self.drop_row(event.position().toPoint())
        moving = mime.hasFormat(MIME_STACK_ROW)
        dropped = self._accepts(mime) and self.stack_model().drop(mime, row)
        self.setState(QAbstractItemView.State.NoState)
        self.viewport().update()
        if dropped:
            event.setDropAction(Qt.DropAction.MoveAction if moving else Qt.DropAction.CopyAction)
            event.accept()
            model = self.stack_model()
            if moving:
                source = int(bytes(mime.data(MIME_STACK_ROW).data()).decode())
                self.setCurrentIndex(model.index(row if row <= source else row - 1))
            else:
                self.setCurrentIndex(model.index(row))
        else:
            event.ignore()

    @staticmethod
    def _accepts(mime: QMimeData) -> bool:
        return mime.hasFormat(MIME_LAYER_KIND) or mime.hasFormat(MIME_STACK_ROW)


class LayerPalette(QListWidget):
    """The layer types to drag onto the stack (double-click adds one above the output layer)."""

    add_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layer_palette")
        self.setToolTip("Layer types: drag one onto the stack, or double-click to add it")
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setIconSize(QSize(20, 20))
        self.setSpacing(2)
        for kind in LAYER_KINDS:
            item = QListWidgetItem(icon(kind), LAYER_TITLES[kind])
            item.setData(Qt.ItemDataRole.UserRole, kind)
            item.setToolTip(LAYER_HELP[kind] + "\nDrag onto the stack, or double-click to add.")
            self.addItem(item)
        self.itemDoubleClicked.connect(
            lambda item: self.add_requested.emit(item.data(Qt.ItemDataRole.UserRole))
        )
        self.setFixedWidth(self.sizeHintForColumn(0) + 2 * self.frameWidth() + 16)

    def mimeTypes(self) -> list[str]:
        return [MIME_LAYER_KIND]

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:
        mime = QMimeData()
        if items:
            kind = items[0].data(Qt.ItemDataRole.UserRole)
            mime.setData(MIME_LAYER_KIND, QByteArray(kind.encode()))
        return mime

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


class NetworkBuilder(QWidget):
    """Palette and stack side by side, with the input line, parameter count and any problems."""

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LayerStackModel(undo_stack, self)
        self.palette_list = LayerPalette(self)
        self.view = LayerStackView(self)
        self.view.setModel(self.model)
        self.input_label = QLabel(self)
        self.input_label.setObjectName("network_input")
        self.summary_label = QLabel(self)
        self.summary_label.setObjectName("network_summary")
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("network_problems")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #c0392b;")
        palette_box = QVBoxLayout()
        palette_title = QLabel("Palette", self)
        palette_title.setToolTip("Drag a layer type onto the stack, or double-click it")
        palette_box.addWidget(palette_title)
        palette_box.addWidget(self.palette_list, 1)
        stack_box = QVBoxLayout()
        stack_box.addWidget(self.input_label)
        stack_box.addWidget(self.view, 1)
        stack_box.addWidget(self.summary_label)
        stack_box.addWidget(self.problem_label)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(palette_box)
        row.addLayout(stack_box, 1)

        self._features: tuple[str, ...] = ("x1", "x2")
        self._loss = "mse"
        self._extra_problems: list[str] = []
        self.palette_list.add_requested.connect(self.add_above_output)
        self.model.network_changed.connect(self.refresh)
        self.refresh()

    def set_context(self, features: tuple[str, ...], loss: str, out_width: int) -> None:
        """Show the stack for these input features and this loss (output width)."""
        self._features, self._loss = tuple(features), loss
        self.model.set_io_widths(len(features), out_width)
        self.refresh()

    def add_above_output(self, kind: str) -> None:
        """Add a layer of ``kind`` just above the output layer (the end if there is none)."""
        index = self.model.network().output_index()
        row = index if index is not None else self.model.rowCount()
        self.model.insert_layer(row, LayerSpec.make(kind))
        self.view.setCurrentIndex(self.model.index(row))

    def set_extra_problems(self, problems: list[str]) -> None:
        """Show problems from outside the stack too (no input feature chosen, say)."""
        self._extra_problems = list(problems)
        self.refresh()

    def problems(self) -> list[str]:
        """The stack's problems with the current loss, then the extra ones."""
        return [*self.model.network().problems(self._loss), *self._extra_problems]

    def refresh(self) -> None:
        """Update the input line, the summary and the problems."""
        names = ", ".join(FEATURE_LABELS.get(f, f) for f in self._features)
        self.input_label.setText(f"<b>Input</b>: {len(self._features)} features ({names})")
        network = self.model.network()
        linears = sum(layer.kind == "linear" for layer in network.layers)
        self.summary_label.setText(
            f"{len(network.layers)} layers ({linears} Linear) · "
            f"<b>{self.model.parameter_count():,}</b> parameters"
        )
        problems = self.problems()
        self.problem_label.setText("\n".join(problems))
        self.problem_label.setVisible(bool(problems))
