"""The network view: nodes, links and biases drawn from the columns; hover, edit, toggle, pages."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from playground.experiment import NetworkSpec
from playground.insight import columns
from playground.widgets.network_view import (
    MAX_LINK_WIDTH,
    MIN_FIT_SCALE,
    MIN_LINK_WIDTH,
    NEGATIVE,
    POSITIVE,
    NetworkView,
    link_scale,
)
from playground.widgets.plots import BOUNDARY_MAP

SEED = "linear:8,relu,linear:8,relu,linear:1,sigmoid"


def make_columns(text: str = SEED):
    return columns(NetworkSpec.parse(text), ["x1", "x2"], 1)


def random_weights(cols, rng) -> dict[str, np.ndarray]:
    weights = {}
    for column in cols[1:]:
        before = cols[column.index - 1].units
        weights[column.weight_key] = rng.normal(size=(column.units, before)).astype(np.float32)
        weights[column.bias_key] = rng.normal(size=column.units).astype(np.float32)
    return weights


@pytest.fixture
def view(qtbot):
    widget = NetworkView(max_units=16)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.set_structure(make_columns())
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def move_to(qtbot, view: NetworkView, scene_point: QPointF) -> None:
    qtbot.mouseMove(view.canvas.viewport(), view.scene_to_view(scene_point))


def click(qtbot, view, scene_point, button=Qt.MouseButton.LeftButton) -> None:
    qtbot.mouseClick(view.canvas.viewport(), button, pos=view.scene_to_view(scene_point))


def link_point(view: NetworkView, column: int, unit: int, source: int) -> QPointF:
    """A point on a link's path, a third of the way along (away from other links' ends)."""
    return view.link_item(column, unit, source).path().pointAtPercent(0.35)


def test_structure_draws_every_unit_and_every_link_of_a_small_network(view):
    cols = make_columns()
    for column in cols:
        assert all(view.node_item(column.index, u) is not None for u in range(column.units))
        assert view.more_item(column.index) is None
    assert view.bias_item(0, 0) is None  # inputs have no bias
    assert all(view.bias_item(3, 0) is not None for _ in range(1))  # the output's own bias
    assert view.link_count() == 2 * 8 + 8 * 8 + 8 * 1


def test_a_wide_layer_draws_a_page_and_a_more_node_with_bounded_links(qtbot):
    widget = NetworkView(max_units=16)
    qtbot.addWidget(widget)
    widget.set_structure(make_columns("linear:256,tanh,linear:256,relu,linear:1"))
    assert widget.node_item(1, 15) is not None and widget.node_item(1, 16) is None
    assert widget.more_item(1) is not None and widget.more_item(3) is None
    assert widget.link_count() == 2 * 16 + 16 * 16 + 16 * 1
    assert "+240" in "".join(item.text() for item in widget.scene.items() if hasattr(item, "text"))


def test_clicking_more_pages_through_the_units(qtbot):
    widget = NetworkView(max_units=16)
    qtbot.addWidget(widget)
    widget.resize(700, 1100)
    widget.set_structure(make_columns("linear:40,relu,linear:1"))
    widget.show()
    qtbot.waitExposed(widget)
    weights = random_weights(widget._columns, np.random.default_rng(0))
    widget.set_weights(weights)
    widget.canvas.ensureVisible(widget.more_item(1))
    click(qtbot, widget, widget.more_item(1).sceneBoundingRect().center())
    assert widget.node_item(1, 15) is None and widget.node_item(1, 16) is not None
    assert widget.link_item(2, 0, 16) is not None and widget.link_item(2, 0, 0) is None
    # the new page's links show their own weights
    expected = POSITIVE if weights["2.weight"][0, 20] > 0 else NEGATIVE
    assert widget.link_item(2, 0, 20).pen().color() == expected


def test_link_pens_follow_the_sign_and_size_of_each_weight(view):
    rng = np.random.default_rng(1)
    weights = random_weights(view._columns, rng)
    weights["2.weight"][3, 5] = 0.0  # no weight: the thinnest line
    view.set_weights(weights)
    w = weights["2.weight"]
    peak = np.abs(w).max()
    widest = MIN_LINK_WIDTH + (MAX_LINK_WIDTH - MIN_LINK_WIDTH) * link_scale(*w.T.shape)
    assert link_scale(8, 8) == 0.75 and link_scale(2, 4) == 1.0  # dense gaps draw thinner
    for j in range(8):
        for i in range(8):
            pen = view.link_item(2, j, i).pen()
            assert pen.color() == (POSITIVE if w[j, i] > 0 else NEGATIVE)
            expected = MIN_LINK_WIDTH + (widest - MIN_LINK_WIDTH) * abs(w[j, i]) / peak
            assert pen.widthF() == pytest.approx(expected, abs=(widest / 11) / 2 + 1e-6)
    j, i = np.unravel_index(np.abs(w).argmax(), w.shape)
    assert view.link_item(2, j, i).pen().widthF() == pytest.approx(widest)
    assert view.link_item(2, 3, 5).pen().widthF() == pytest.approx(MIN_LINK_WIDTH)
    # a new weight of the other sign turns the link's colour
    weights = {k: v.copy() for k, v in weights.items()}
    first = view._columns[1].weight_key
    weights[first][0, 0] = -weights[first][0, 0]
    before = view.link_item(1, 0, 0).pen().color()
    view.set_weights(weights)
    assert view.link_item(1, 0, 0).pen().color() != before


def test_bias_marks_are_coloured_by_sign(view):
    weights = random_weights(view._columns, np.random.default_rng(2))
    weights["4.bias"][:] = [2.0]  # the output unit's bias
    weights["0.bias"][:2] = [-1.5, 1.5]
    view.set_weights(weights)
    assert view.bias_item(3, 0).brush().color() == POSITIVE  # |b| >= 1: the full colour
    assert view.bias_item(1, 0).brush().color() == NEGATIVE
    assert view.bias_item(1, 1).brush().color() == POSITIVE


def test_a_node_shows_its_map_through_the_boundary_colour_map(view):
    rng = np.random.default_rng(3)
    maps = [rng.uniform(-1, 1, size=(c.units, 16, 16)).astype(np.float32) for c in view._columns]
    maps[3] = rng.uniform(0, 1, size=(1, 16, 16)).astype(np.float32)
    view.set_maps(maps, (0.0, 1.0))
    image = view.node_item(3, 0).pixmap().toImage()
    assert (image.width(), image.height()) == (16, 16)
    for row, col in ((0, 0), (15, 3), (7, 12)):
        value = maps[3][0, row, col]  # row 0 = the lowest x2, drawn at the bottom
        expected = BOUNDARY_MAP.map(float(value), mode="qcolor")
        got = QColor(image.pixel(col, 15 - row))
        for a, b in ((got.red(), expected.red()), (got.green(), expected.green())):
            assert abs(a - b) <= 1
    # on screen the 16x16 map is scaled to the node's size
    assert view.node_item(3, 0).sceneBoundingRect().width() == pytest.approx(view.node_size)


def test_auto_levels_centre_zero_on_the_neutral_colour(view):
    maps = [np.zeros((c.units, 8, 8), np.float32) for c in view._columns]
    maps[1][0] = np.linspace(-2, 2, 64).reshape(8, 8)  # column 1's largest |value| is 2
    maps[1][1, :, :] = 0.0
    view.set_maps(maps, None)
    middle = QColor(view.node_item(1, 1).pixmap().toImage().pixel(0, 0))
    expected = BOUNDARY_MAP.map(0.5, mode="qcolor")
    assert abs(middle.red() - expected.red()) <= 1 and abs(middle.blue() - expected.blue()) <= 1


def test_maps_of_the_wrong_shape_are_refused_with_a_message(view):
    maps = [np.zeros((c.units, 8, 8), np.float32) for c in view._columns]
    maps[2] = np.zeros((3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="column 2"):
        view.set_maps(maps, None)
    with pytest.raises(ValueError, match="maps for"):
        view.set_maps(maps[:2], None)


def test_hovering_a_unit_emits_it_and_shows_its_formula_and_bias_live(qtbot, view):
    weights = random_weights(view._columns, np.random.default_rng(4))
    view.set_weights(weights)
    centre = view.node_item(2, 2).sceneBoundingRect().center()
    with qtbot.waitSignal(view.unitHovered) as hovered:
        move_to(qtbot, view, centre)
    assert hovered.args == [2, 2]
    text = view.hover_text()
    assert "h₂,₃ = ReLU(Σᵢ w·h₁,ᵢ + b)" in text
    assert f"b = {float(weights['2.bias'][2]):.4g}" in text
    weights = {k: v.copy() for k, v in weights.items()}
    weights["2.bias"][2] = 0.125
    view.set_weights(weights)  # a snapshot arrives while the mouse rests there
    assert "b = 0.125" in view.hover_text()
    with qtbot.waitSignal(view.unitHovered) as left:
        move_to(qtbot, view, QPointF(view.scene.sceneRect().right() - 2, 5))
    assert left.args == [-1, -1]
    assert view.hover_text() == ""


def test_hovering_a_link_or_a_bias_shows_its_value_live(qtbot, view):
    weights = random_weights(view._columns, np.random.default_rng(5))
    view.set_weights(weights)
    move_to(qtbot, view, link_point(view, 2, 4, 1))
    assert f"w = {float(weights['2.weight'][4, 1]):.4g}" in view.hover_text()
    assert "2.weight[4, 1]" in view.hover_text()
    weights = {k: v.copy() for k, v in weights.items()}
    weights["2.weight"][4, 1] = -3.5
    view.set_weights(weights)
    assert "w = -3.5" in view.hover_text()
    move_to(qtbot, view, view.bias_item(3, 0).sceneBoundingRect().center())
    assert f"b = {float(weights['4.bias'][0]):.4g}" in view.hover_text()


def test_clicking_a_link_while_editable_edits_its_weight(qtbot, view):
    view.set_weights(random_weights(view._columns, np.random.default_rng(6)))
    click(qtbot, view, link_point(view, 2, 4, 1))
    assert not view.editor.isVisible()  # not editable: a click does nothing
    view.set_editable(True)
    click(qtbot, view, link_point(view, 2, 4, 1))
    assert view.editor.isVisible()
    view.editor.clear()
    with qtbot.waitSignal(view.parameterEdited) as edited:
        qtbot.keyClicks(view.editor, "-0.75")
        qtbot.keyClick(view.editor, Qt.Key.Key_Return)
    assert edited.args == ["2.weight", (4, 1), -0.75]
    assert not view.editor.isVisible()


def test_a_bias_edit_and_bad_text_gives_a_message_and_no_signal(qtbot, view):
    view.set_weights(random_weights(view._columns, np.random.default_rng(7)))
    view.set_editable(True)
    click(qtbot, view, view.bias_item(3, 0).sceneBoundingRect().center())
    assert view.editor.isVisible()
    emitted = []
    view.parameterEdited.connect(lambda *args: emitted.append(args))
    for bad in ("abc", "inf", "nan", ""):
        view.editor.setText(bad)
        qtbot.keyClick(view.editor, Qt.Key.Key_Return)
        assert view.edit_message.isVisible()
        assert "finite" in view.edit_message.text() or "not a number" in view.edit_message.text()
    assert emitted == []
    view.editor.setText("1e-2")
    qtbot.keyClick(view.editor, Qt.Key.Key_Return)
    assert emitted == [("4.bias", (0,), 0.01)]
    assert not view.edit_message.isVisible()


def test_escape_cancels_an_edit(qtbot, view):
    view.set_weights(random_weights(view._columns, np.random.default_rng(8)))
    view.set_editable(True)
    click(qtbot, view, view.bias_item(1, 0).sceneBoundingRect().center())
    qtbot.keyClick(view.editor, Qt.Key.Key_Escape)
    assert not view.editor.isVisible()


def test_right_click_toggles_a_unit_and_set_disabled_draws_it_off(qtbot, view):
    centre = view.node_item(1, 5).sceneBoundingRect().center()
    with qtbot.waitSignal(view.unitToggled) as toggled:
        click(qtbot, view, centre, Qt.MouseButton.RightButton)
    assert toggled.args == [1, 5, False]
    view.set_disabled({(1, 5)})
    assert view.node_item(1, 5).opacity() < 1 and view._crosses[1][5].isVisible()
    with qtbot.waitSignal(view.unitToggled) as toggled:
        click(qtbot, view, centre, Qt.MouseButton.RightButton)
    assert toggled.args == [1, 5, True]
    view.set_disabled(set())
    assert view.node_item(1, 5).opacity() == 1 and not view._crosses[1][5].isVisible()


def test_clicking_a_column_title_selects_the_column(qtbot, view):
    with qtbot.waitSignal(view.columnSelected) as selected:
        click(qtbot, view, view.header_item(2).sceneBoundingRect().center())
    assert selected.args == [2]


def test_activations_are_shown_on_the_nodes(view):
    values = [np.array([0.5, -1.0]), np.linspace(0, 1, 8), np.zeros(8), np.array([0.93])]
    view.set_activations(values)
    assert view._labels[3][0].text() == "0.93"
    assert view._frames[0][1].pen().color().name() != view._frames[0][0].pen().color().name()
    view.set_activations(None)
    assert view._labels[3][0].text() == ""


def test_gradients_replace_weights_on_links_until_cleared(qtbot, view):
    weights = random_weights(view._columns, np.random.default_rng(9))
    view.set_weights(weights)
    grads = {k: -v for k, v in weights.items()}
    view.set_link_gradients(grads, point=(0.25, -1.5))
    sign = weights["2.weight"][0, 0] > 0
    assert view.link_item(2, 0, 0).pen().color() == (NEGATIVE if sign else POSITIVE)
    assert "gradients" in view.legend.text() and "(0.25, -1.5)" in view.legend.text()
    move_to(qtbot, view, link_point(view, 2, 0, 0))
    assert f"∂loss/∂w = {float(grads['2.weight'][0, 0]):.4g}" in view.hover_text()
    view.set_weights({k: v * 2 for k, v in weights.items()})  # weights keep arriving
    assert view.link_item(2, 0, 0).pen().color() == (NEGATIVE if sign else POSITIVE)
    view.set_link_gradients(None)
    assert view.link_item(2, 0, 0).pen().color() == (POSITIVE if sign else NEGATIVE)
    assert "weights" in view.legend.text()


def test_a_stack_opening_with_an_activation_draws_without_links_into_it(qtbot):
    widget = NetworkView()
    qtbot.addWidget(widget)
    widget.set_structure(make_columns("tanh,linear:4,relu,linear:1"))
    assert widget.link_item(1, 0, 0) is None
    assert widget.link_count() == 2 * 4 + 4 * 1
    assert widget.bias_item(1, 0) is not None  # its bias key is None: drawn as unknown
    widget.set_weights({})
    widget.set_maps([np.zeros((c.units, 4, 4), np.float32) for c in widget._columns], None)


def test_accessible_names_and_minimum_size(view):
    assert view.objectName() == "network_view"
    for name in ("network_canvas", "network_hover_card", "network_value_editor"):
        assert view.findChild(object, name) is not None
    assert view.canvas.toolTip()
    assert view.minimumWidth() >= 300 and view.minimumHeight() >= 200


def test_a_network_wider_than_the_view_shrinks_to_fit_down_to_a_limit(qtbot):
    widget = NetworkView()
    qtbot.addWidget(widget)
    widget.set_structure(make_columns("linear:8,relu,linear:8,relu,linear:8,relu,linear:1,sigmoid"))
    widget.resize(1400, 600)
    widget.show()
    assert widget.canvas.transform().m11() == 1.0  # room enough: drawn at full size
    wide = widget.scene.itemsBoundingRect().right()
    widget.resize(int(wide * 0.8), 600)
    scale = widget.canvas.transform().m11()
    assert MIN_FIT_SCALE <= scale < 1.0
    assert wide * scale <= widget.canvas.viewport().width() + 8
    widget.resize(200, 600)
    assert widget.canvas.transform().m11() == MIN_FIT_SCALE  # then it scrolls
