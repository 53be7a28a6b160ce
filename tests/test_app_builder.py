"""The network builder: palette drops, moves, deletes, in-place edits and undo/redo."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QByteArray, QMimeData, QPointF, Qt
from PySide6.QtGui import QDropEvent, QUndoStack

from playground.experiment import LayerSpec, NetworkSpec
from playground.widgets.network_builder import (
    MIME_LAYER_KIND,
    MIME_STACK_ROW,
    LayerStackModel,
    NetworkBuilder,
    _single_change,
)


def kinds(model: LayerStackModel) -> list[str]:
    return [layer.kind for layer in model.layers()]


def palette_mime(kind: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(MIME_LAYER_KIND, QByteArray(kind.encode()))
    return mime


@pytest.fixture
def builder(qtbot) -> NetworkBuilder:
    widget = NetworkBuilder(QUndoStack())
    qtbot.addWidget(widget)
    widget.model.set_layers_without_undo(list(NetworkSpec.seed().layers))
    widget.set_context(("x1", "x2"), "mse", 1)
    widget.resize(600, 500)
    widget.show()
    return widget


def test_seed_stack_shows_shapes_and_parameter_count(builder):
    model = builder.model
    assert model.rowCount() == 8
    assert [s.out_width for s in model.shapes()] == [25, 25, 25, 25, 25, 25, 1, 1]
    assert model.parameter_count() == 1401
    assert "1,401" in builder.summary_label.text()
    assert not model.is_editable(6)  # the output layer's width follows the loss
    assert model.is_editable(0)


def test_input_width_follows_features_and_output_width_follows_loss(builder):
    builder.set_context(("x1", "x2", "x1^2"), "cross_entropy", 2)
    shapes = builder.model.shapes()
    assert shapes[0].in_width == 3 and shapes[6].out_width == 2
    assert "3 features" in builder.input_label.text()
    # the Sigmoid after the output does not suit softmax cross-entropy: said before training
    assert "remove the activation" in builder.problem_label.text()
    assert not builder.problem_label.isHidden()


def test_drop_from_palette_move_delete_and_undo_redo(builder):
    model, undo = builder.model, builder.model.undo_stack
    before = kinds(model)
    assert model.drop(palette_mime("tanh"), 2)
    assert kinds(model)[2] == "tanh"

    move = QMimeData()
    move.setData(MIME_STACK_ROW, QByteArray(b"2"))
    assert model.drop(move, 0)  # drag row 2 to the top
    assert kinds(model)[0] == "tanh"

    assert model.remove_layer(0)
    assert kinds(model) == before
    assert undo.count() == 3

    undo.undo()  # the removal
    assert kinds(model)[0] == "tanh"
    undo.undo()  # the move
    assert kinds(model)[2] == "tanh"
    undo.undo()  # the drop
    assert kinds(model) == before
    undo.redo()
    undo.redo()
    assert kinds(model)[0] == "tanh"


def test_move_down_lands_where_dropped(builder):
    model = builder.model
    model.insert_layer(0, LayerSpec.make("dropout"))
    mime = QMimeData()
    mime.setData(MIME_STACK_ROW, QByteArray(b"0"))
    assert model.drop(mime, 3)  # before old row 3, i.e. after old rows 1 and 2
    assert kinds(model)[:3] == ["linear", "relu", "dropout"]


def test_edit_in_place_is_undoable_and_checked(builder):
    model = builder.model
    assert model.setData(model.index(0), 64, Qt.ItemDataRole.EditRole)
    assert model.layer(0).units == 64
    assert model.parameter_count() == 2 * 64 + 64 + 64 * 25 + 25 + 650 + 26
    assert not model.setData(model.index(0), 0, Qt.ItemDataRole.EditRole)  # 0 units: refused
    assert not model.setData(model.index(6), 3, Qt.ItemDataRole.EditRole)  # output: fixed
    model.undo_stack.undo()
    assert model.layer(0).units == 25


def test_synthetic_drop_event_on_the_view_inserts_there(builder, qtbot):
    view = builder.view
    target = view.visualRect(builder.model.index(1))
    pos = QPointF(target.center().x(), target.top() + 2)  # upper half of row 1: before it
    mime = palette_mime("leaky_relu")  # the event does not own its mime data: keep it alive
    event = QDropEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    # QApplication only routes drop events during a real drag; hand it to the view's handler
    view.dropEvent(event)
    accepted = event.isAccepted()
    assert accepted
    assert kinds(builder.model)[1] == "leaky_relu"
    assert view.currentIndex().row() == 1
    # below everything: appended
    mime_end = palette_mime("dropout")
    end = QDropEvent(
        QPointF(20, view.viewport().height() - 2),
        Qt.DropAction.CopyAction,
        mime_end,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    view.dropEvent(end)
    assert kinds(builder.model)[-1] == "dropout"


def test_delete_key_removes_the_selected_layer(builder, qtbot):
    view = builder.view
    view.setFocus()
    view.setCurrentIndex(builder.model.index(1))
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert kinds(builder.model)[:2] == ["linear", "linear"]
    assert builder.model.rowCount() == 7


def test_palette_double_click_adds_above_the_output_layer(builder):
    builder.add_above_output("relu")
    assert kinds(builder.model)[6:] == ["relu", "linear", "sigmoid"]


def test_palette_drags_carry_the_kind(builder):
    palette = builder.palette_list
    mime = palette.mimeData([palette.item(3)])
    assert bytes(mime.data(MIME_LAYER_KIND).data()) == b"tanh"


def test_eight_hidden_layers_of_256_units(builder):
    layers = [LayerSpec("linear", units=256), LayerSpec("relu")] * 8
    builder.model.replace_layers([*layers, LayerSpec("linear", units=1), LayerSpec("sigmoid")])
    assert builder.problems() == []
    assert builder.model.shapes()[-2].in_width == 256
    builder.model.undo_stack.undo()
    assert builder.model.rowCount() == 8


def test_an_empty_stack_is_explained(builder):
    builder.model.replace_layers([])
    assert "drag a Linear layer" in builder.problem_label.text()


def test_double_click_editor_changes_units_in_place(builder, qtbot):
    from PySide6.QtWidgets import QSpinBox

    view = builder.view
    index = builder.model.index(2)
    view.setCurrentIndex(index)
    view.edit(index)
    editor = view.findChild(QSpinBox, "layer_value_editor")
    assert editor is not None and editor.value() == 25
    editor.setValue(128)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: builder.model.layer(2).units == 128, timeout=2000)  # queued commit
    assert builder.model.undo_stack.undoText() == "Change Linear to 128 units"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("abc", "abc", None),
        ("abc", "aXbc", ("insert", 1, "X")),
        ("abc", "abcX", ("insert", 3, "X")),
        ("abc", "ac", ("remove", 1)),
        ("abc", "ab", ("remove", 2)),
        ("abc", "aXc", ("set", 1, "X")),
        ("abcd", "bcad", ("move", 0, 2)),
        ("abcd", "dabc", ("move", 3, 0)),
        ("abcd", "badc", None),  # two swaps: no single row operation
        ("abc", "", None),
        ("", "a", ("insert", 0, "a")),
    ],
)
def test_single_change_finds_the_one_row_operation(old, new, expected):
    assert _single_change(list(old), list(new)) == (
        None if expected is None else (expected[0], *expected[1:])
    )
    if expected is not None:  # and it does turn old into new
        layers = list(old)
        op, *args = expected
        if op == "insert":
            layers.insert(args[0], args[1])
        elif op == "remove":
            del layers[args[0]]
        elif op == "set":
            layers[args[0]] = args[1]
        else:
            layers.insert(args[1], layers.pop(args[0]))
        assert layers == list(new)


def test_a_standalone_builder_shows_undo_by_rows_not_by_reset(builder, qtbot):
    model = builder.model
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    builder.view.setCurrentIndex(model.index(4))
    model.remove_layer(1)
    model.undo_stack.undo()
    model.undo_stack.redo()
    assert resets == [] and kinds(model)[:2] == ["linear", "linear"]
