"""The inside views in the window (issue 12 items 1-6): the network dock fed from snapshots, a
hovered unit's map on the boundary plot, undoable weight edits and unit toggles, a point's
activations and gradients, the maths dock, the Gradients tab and the hidden-space dock.

Oracles: the session's own numbers (column_maps, activations_at, point_gradients,
decision_grid, hidden_space) on the same weights, a deep copy of the session edited directly,
and minidl.formula for the maths text."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PySide6.QtCore import QSettings

import minidl
from playground.experiment import DataSpec, Experiment, NetworkSpec, TrainSpec
from playground.session import GRID_SIZE
from playground.widgets.inside import MAP_SIZE
from playground.widgets.main_window import MainWindow
from tests.windows import make_window


@pytest.fixture
def window(qtbot):
    win = make_window(qtbot, Experiment(data=DataSpec(points=200)))
    yield win
    win.close()


def step_once(win: MainWindow, qtbot) -> None:
    epoch = win.session.epoch
    win.step()
    qtbot.waitUntil(
        lambda: (
            win.controller.is_idle
            and win.session.epoch == epoch + 1
            and not win.inside.redraw_pending
        ),
        timeout=10_000,
    )


def test_network_dock_shows_the_sessions_columns_and_is_in_the_view_menu(window):
    inside = window.inside
    assert inside.network_dock.objectName() == "network_dock" and inside.network_dock.isVisible()
    assert not inside.hidden_dock.isVisible() and not inside.maths_dock.isVisible()
    assert len(inside.network._columns) == len(window.session.columns) == 5
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    names = {a.objectName() for a in view_menu.actions()}
    assert {"network", "maths", "hidden_space", "confusion"} <= names
    maps = window.session.column_maps(MAP_SIZE)
    for shown, expected in zip(inside.network._maps, maps, strict=True):
        np.testing.assert_array_equal(shown, expected)


def test_the_network_view_follows_a_rebuilt_session(window):
    window.builder.model.replace_layers(
        list(NetworkSpec.parse("linear:4,tanh,linear:1,sigmoid").layers), "Smaller"
    )
    assert [c.units for c in window.inside.network._columns] == [2, 4, 1]
    assert window.plots.gradients.labels == window.session.norm_labels


def test_after_a_step_the_maps_are_those_of_the_snapshots_weights(window, qtbot):
    step_once(window, qtbot)
    snap = window.last_snapshot
    assert snap.epoch == 1 and snap.weights is not None
    maps = window.session.column_maps(MAP_SIZE, snap.weights)
    for shown, expected in zip(window.inside.network._maps, maps, strict=True):
        np.testing.assert_array_equal(shown, expected)
    for key, value in window.session.model.state_dict().items():  # the session came back
        np.testing.assert_array_equal(snap.weights[key], value.numpy())
    np.testing.assert_array_equal(
        window.inside.network._weights["0.weight"], snap.weights["0.weight"]
    )


def test_hovering_a_unit_shows_its_map_on_the_boundary_plot_until_left(window):
    boundary = window.plots.boundary
    window.inside.network.unitHovered.emit(2, 3)
    expected = window.session.column_maps(GRID_SIZE)[2][3]
    np.testing.assert_array_equal(boundary.image.image, expected)
    title = boundary.getPlotItem().titleLabel.text
    assert "h₂,₄ = ReLU(" in title and boundary.showing_map
    window.inside.network.unitHovered.emit(-1, -1)
    assert not boundary.showing_map
    np.testing.assert_array_equal(boundary.image.image, window.session.decision_grid())


def test_an_edit_while_paused_changes_the_grid_exactly_and_undo_restores_it(window):
    session = window.session
    before = window.plots.boundary.image.image.copy()
    old = float(session.model.state_dict()["2.weight"][1, 3])
    oracle = copy.deepcopy(session)
    oracle.set_parameter("2.weight", (1, 3), 2.5)
    window.inside.network.parameterEdited.emit("2.weight", (1, 3), 2.5)
    assert float(session.model.state_dict()["2.weight"][1, 3]) == 2.5
    np.testing.assert_array_equal(window.plots.boundary.image.image, oracle.decision_grid())
    assert not np.array_equal(window.plots.boundary.image.image, before)
    np.testing.assert_array_equal(window.inside.network._maps[2], oracle.column_maps(MAP_SIZE)[2])
    train, _ = oracle.current_loss()
    assert f"training loss {train:.4f}" in window.statusBar().currentMessage()
    window.undo_stack.undo()
    assert float(session.model.state_dict()["2.weight"][1, 3]) == old
    np.testing.assert_array_equal(window.plots.boundary.image.image, before)
    window.undo_stack.redo()
    np.testing.assert_array_equal(window.plots.boundary.image.image, oracle.decision_grid())


def test_a_bad_edit_says_why_and_changes_nothing(window):
    count = window.undo_stack.count()
    window.inside.network.parameterEdited.emit("2.weight", (99, 0), 1.0)
    assert "no entry" in window.statusBar().currentMessage()
    assert window.undo_stack.count() == count


def test_edits_are_refused_while_playing(window, qtbot):
    assert window.inside.network._editable
    window.toggle_play()
    qtbot.waitUntil(lambda: window.last_snapshot.epoch >= 1, timeout=10_000)
    assert not window.inside.network._editable
    count = window.undo_stack.count()
    window.inside.network.parameterEdited.emit("0.weight", (0, 0), 5.0)
    window.inside.network.unitToggled.emit(1, 0, False)
    assert "Pause training first" in window.statusBar().currentMessage()
    assert window.undo_stack.count() == count
    window.toggle_play()
    qtbot.waitUntil(lambda: window.controller.is_idle, timeout=10_000)
    assert window.inside.network._editable
    assert float(window.session.model.state_dict()["0.weight"][0, 0]) != 5.0


def test_switching_a_unit_off_zeroes_its_map_and_changes_the_boundary(window):
    before = window.plots.boundary.image.image.copy()
    window.inside.network.unitToggled.emit(1, 4, False)
    assert window.session.disabled_units == {(1, 4)}
    assert window.inside.network._disabled == {(1, 4)}
    assert not window.inside.network._maps[1][4].any()
    assert window.inside.network._maps[1][3].any()
    assert not np.array_equal(window.plots.boundary.image.image, before)
    window.undo_stack.undo()
    assert window.session.disabled_units == frozenset()
    np.testing.assert_array_equal(window.plots.boundary.image.image, before)


def test_hovering_a_point_shows_its_activations_and_after_a_step_its_gradients(window, qtbot):
    view, point = window.inside.network, (0.7, -1.2)
    window.plots.boundary.hovered.emit(point)
    qtbot.waitUntil(lambda: view._activations is not None, timeout=2000)
    for shown, expected in zip(
        view._activations, window.session.activations_at(point), strict=True
    ):
        np.testing.assert_array_equal(shown, expected)
    assert view._grads is None  # no step yet: the links show the weights
    window.plots.boundary.hovered.emit(None)
    assert view._activations is None
    step_once(window, qtbot)
    window.inside._last_point_time = 0.0
    window.plots.boundary.hovered.emit(point)
    qtbot.waitUntil(lambda: view._grads is not None, timeout=2000)
    label = window.inside._label_at(point, window.session.activations_at(point)[-1])
    expected = window.session.point_gradients(point, label)
    for key, value in expected.items():
        np.testing.assert_array_equal(view._grads[key], value)
    assert view._grad_point == point
    window.plots.boundary.hovered.emit(None)
    assert view._grads is None and view._activations is None


def test_selecting_a_column_shows_its_maths_live(window, qtbot):
    window.inside.network.columnSelected.emit(2)
    assert window.inside.maths_dock.isVisible()
    panel, session = window.inside.maths, window.session
    text = "\n".join(panel.formula_lines())
    for layer in session.columns[2].layers:
        forward, backward = minidl.formula(session.model[layer])
        assert forward.splitlines()[0] in text and backward.splitlines()[0] in text
    np.testing.assert_array_equal(panel.weight_plot.matrix, session.model[2].weight.data.numpy())
    assert panel.grad_plot.matrix is None
    step_once(window, qtbot)
    np.testing.assert_array_equal(
        panel.weight_plot.matrix, window.last_snapshot.weights["2.weight"]
    )
    np.testing.assert_array_equal(panel.grad_plot.matrix, window.last_snapshot.grads["2.weight"])


def test_the_gradients_tab_gets_one_row_per_epoch(window, qtbot):
    tabs = window.plots.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Loss && Accuracy", "Gradients"]
    step_once(window, qtbot)
    step_once(window, qtbot)
    grads = window.plots.gradients
    rows = window.session.history_rows()
    assert grads.size == 2 and grads.labels == window.session.norm_labels
    np.testing.assert_array_equal(grads.epochs(), rows.epoch)
    np.testing.assert_array_equal(grads.grad_norms(), rows.grad_norms)
    np.testing.assert_array_equal(grads.weight_norms(), rows.weight_norms)
    window.reset_weights()
    assert window.plots.gradients.size == 0


def test_divergence_marks_the_layer_whose_gradient_blew_up(qtbot):
    exp = Experiment(
        network=NetworkSpec.parse("linear:25,relu,linear:25,relu,linear:25,relu,linear:1"),
        data=DataSpec(points=200),
        train=TrainSpec(learning_rate=10.0),  # the loss overflows at epoch 2
    )
    win = make_window(qtbot, exp)
    try:
        with qtbot.waitSignal(win.controller.diverged, timeout=10_000):
            win.toggle_play()
        qtbot.waitUntil(lambda: win.controller.is_idle, timeout=5000)
        layer = win.session.divergence_layer
        assert layer in win.session.norm_labels
        grads = win.plots.gradients
        assert grads.highlighted == grads.labels.index(layer)
        assert layer in grads.note.text() and grads.note.isVisibleTo(grads)
        assert layer in win.notice.message()
        assert layer in win.statusBar().currentMessage()
    finally:
        win.close()


def test_the_hidden_space_dock_draws_the_chosen_units_live(window, qtbot):
    inside = window.inside
    inside.hidden_action.trigger()
    assert inside.hidden_dock.isVisible()
    choice = inside.hidden.choice()
    assert choice == (1, (0, 1))
    expected = window.session.hidden_space(1, (0, 1))
    x, y = inside.hidden.train_points[0].getData()
    train0 = expected.points[~expected.is_test & (expected.labels == 0)]
    np.testing.assert_array_equal(np.column_stack([x, y]), train0)
    step_once(window, qtbot)
    expected = window.session.hidden_space(1, (0, 1))
    x, y = inside.hidden.train_points[0].getData()
    train0 = expected.points[~expected.is_test & (expected.labels == 0)]
    np.testing.assert_allclose(np.column_stack([x, y]), train0)


def test_dock_visibility_is_remembered(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = make_window(qtbot, Experiment(data=DataSpec(points=200)), settings=settings)
    win.inside.network_action.trigger()
    win.inside.hidden_action.trigger()
    assert not win.inside.network_dock.isVisible()
    win.close()
    again = make_window(qtbot, Experiment(data=DataSpec(points=200)), settings=settings)
    try:
        assert not again.inside.network_dock.isVisible()
        assert again.inside.hidden_dock.isVisible()
    finally:
        again.close()


def test_the_mouse_over_the_plot_drives_the_point_path(window, qtbot):
    boundary, view = window.plots.boundary, window.inside.network
    box = boundary.getPlotItem().getViewBox()
    centre = box.sceneBoundingRect().center()
    pos = boundary.mapFromScene(centre)
    seen = []
    boundary.hovered.connect(seen.append)
    qtbot.mouseMove(boundary.viewport(), pos)
    qtbot.waitUntil(lambda: view._activations is not None, timeout=2000)
    point = box.mapSceneToView(boundary.mapToScene(pos))
    assert seen[-1] == pytest.approx((point.x(), point.y()))
    expected = window.session.activations_at(seen[-1])
    for shown, value in zip(view._activations, expected, strict=True):
        np.testing.assert_array_equal(shown, value)
    qtbot.mouseMove(window.controls, window.controls.rect().center())
    qtbot.waitUntil(lambda: view._activations is None, timeout=2000)


def test_a_typed_weight_marks_the_experiment_modified_when_files_carry_weights(window):
    window.include_weights_action.setChecked(True)
    window._mark_clean()
    assert not window.is_modified()
    window.inside.network.parameterEdited.emit("2.weight", (1, 3), 2.5)
    assert window.is_modified() and window.isWindowModified()
    window.undo_stack.undo()  # the file's weights again
    assert not window.is_modified() and not window.isWindowModified()
    window.undo_stack.redo()
    assert window.is_modified()
    window.include_weights_action.setChecked(False)  # a file without weights is unchanged
    assert not window.is_modified()


def test_after_a_rebuild_a_typed_weight_saved_in_the_file_counts_as_changed(window):
    window.include_weights_action.setChecked(True)
    window.inside.network.parameterEdited.emit("2.weight", (1, 3), 2.5)
    window._mark_clean()  # the file now holds the typed weight
    window.builder.model.remove_layer(1)
    window.undo_stack.undo()  # the file's network again: the experiment equals the file's...
    assert window.experiment == window.document._clean[0]
    assert window.is_modified()  # ...but the fresh weights lack the typed one
