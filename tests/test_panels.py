"""The maths panel, the gradient-norm plot and the hidden-space view (issue 12, items 4-6).

The columns are playground.insight's own; the formulas the panel must show are minidl.formula's
text for the same modules, the oracle.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

import minidl
from minidl import nn
from playground.experiment import NetworkSpec
from playground.insight import Column, HiddenSpace, columns
from playground.widgets.gradient_plot import GradientPlot
from playground.widgets.hidden_view import HiddenSpaceView, polyline_arrays
from playground.widgets.maths_panel import MathsPanel, symmetric_level
from playground.widgets.plots import CLASS0, CLASS1


def stack_columns(text: str, features=("x1", "x2")) -> list[Column]:
    """The real neuron columns (playground.insight) of a stack written as the CLI writes it."""
    return columns(NetworkSpec.parse(text), features, 1)


@pytest.fixture
def panel(qtbot):
    widget = MathsPanel()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    return widget


# -- maths panel ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "modules", "names"),
    [
        ("linear:3,relu", [nn.Linear(2, 3), nn.ReLU()], ["Linear", "ReLU"]),
        ("linear:3,tanh", [nn.Linear(2, 3), nn.Tanh()], ["Linear", "Tanh"]),
        ("linear:3,sigmoid", [nn.Linear(2, 3), nn.Sigmoid()], ["Linear", "Sigmoid"]),
        (
            "linear:3,leaky_relu:0.1,dropout:0.5",
            [nn.Linear(2, 3), nn.LeakyReLU(0.1), nn.Dropout(0.5)],
            ["Linear", "LeakyReLU", "Dropout"],
        ),
    ],
)
def test_maths_panel_shows_the_engines_formulas_one_op_a_line(panel, stack, modules, names):
    column = stack_columns(stack + ",linear:1")[1]
    panel.show_column(column, np.zeros((3, 2)), np.zeros(3), None)
    lines = panel.formula_lines()
    forward, backward = lines.index("Forward"), lines.index("Backward")
    width = max(len(name) for name in names)
    for offset, (module, name) in enumerate(zip(modules, names, strict=True), start=1):
        fwd, bwd = minidl.formula(module)
        assert lines[forward + offset] == f"{name.ljust(width)}  {fwd}"
        assert lines[backward + offset] == f"{name.ljust(width)}  {bwd}"
    assert column.formula in panel.title.text()


def test_maths_panel_heatmaps_are_w_b_and_dw_with_symmetric_levels(panel):
    rng = np.random.default_rng(0)
    w, b, dw = rng.normal(size=(8, 2)), rng.normal(size=8), 1e-3 * rng.normal(size=(8, 2))
    panel.show_column(stack_columns("linear:8,tanh,linear:1")[1], w, b, dw)
    assert panel.heatmaps.isVisibleTo(panel)
    for plot, matrix in ((panel.weight_plot, w), (panel.grad_plot, dw), (panel.bias_plot, b)):
        shown = plot.image.image
        np.testing.assert_array_equal(shown, np.asarray(matrix, np.float32).reshape(shown.shape))
        low, high = plot.image.getLevels()
        assert low == -high and high >= np.abs(matrix).max()
        assert tuple(plot.colorbar.levels()) == (low, high)
    assert panel.grad_plot.level < 0.01 < panel.weight_plot.level  # each matrix its own scale


def test_maths_panel_hover_tooltip_names_the_cell_and_follows_new_values(panel):
    w = np.arange(6.0).reshape(3, 2) - 2.5
    column = stack_columns("linear:3,relu,linear:1")[1]
    panel.show_column(column, w, np.zeros(3), None)
    image = panel.weight_plot.image

    class Hover:
        def isExit(self):  # noqa: N802
            return False

        def pos(self):
            return QPointF(1.5, 2.5)  # x = input unit 1, y = unit 2

    image.hoverEvent(Hover())
    assert image.toolTip() == f"W[2, 1] = {w[2, 1]:.4g}"
    panel.show_column(column, 10 * w, np.zeros(3), None)  # a new snapshot under the mouse
    assert image.toolTip() == f"W[2, 1] = {10 * w[2, 1]:.4g}"
    assert panel.weight_plot.describe(3, 0) == ""  # outside the matrix


def test_maths_panel_lists_the_input_features_and_clears(panel):
    inputs = stack_columns("linear:1", features=["x1", "x2", "x1^2"])[0]
    panel.show_column(inputs, None, None, None)
    assert "x1, x2, x1^2" in " ".join(panel.formula_lines())
    assert not panel.heatmaps.isVisibleTo(panel)
    panel.clear()
    assert "Select a layer" in " ".join(panel.formula_lines())
    assert panel.weight_plot.matrix is None


def test_maths_panel_survives_a_diverged_matrix(panel):
    w = np.array([[np.nan, 1.0], [np.inf, -np.inf]])
    panel.show_column(stack_columns("linear:2")[1], w, np.zeros(2), w)
    assert np.isfinite(panel.weight_plot.image.image).all()
    assert panel.weight_plot.level == 1.0
    assert panel.weight_plot.describe(0, 0) == "W[0, 0] = nan"


def test_symmetric_level_steps_and_keeps_its_level_while_it_fits():
    assert symmetric_level(np.array([0.3, -0.7])) == pytest.approx(0.7)
    assert symmetric_level(np.array([2.4])) == 3.0
    assert symmetric_level(np.array([-12.0])) == pytest.approx(15.0)
    assert symmetric_level(np.array([0.6]), current=1.0) == 1.0  # within half: kept
    assert symmetric_level(np.array([0.3]), current=1.0) == pytest.approx(0.3)
    assert symmetric_level(np.array([0.0, np.nan])) == 1.0


# -- gradient plot -------------------------------------------------------------------------


def path_points(curve) -> np.ndarray:
    """The distinct (x, y) points of a curve's path, in order."""
    path = curve.path()
    points = [(path.elementAt(i).x, path.elementAt(i).y) for i in range(path.elementCount())]
    distinct = [p for k, p in enumerate(points) if k == 0 or p != points[k - 1]]
    return np.array(distinct).reshape(-1, 2)


@pytest.fixture
def grads(qtbot):
    widget = GradientPlot()
    qtbot.addWidget(widget)
    widget.set_labels(["Linear 1 (2→8)", "Linear 2 (8→1)"])
    return widget


def test_gradient_curves_are_the_appended_norms_on_a_log_axis(grads):
    epochs = np.arange(1, 6, dtype=float)
    g = np.column_stack([10.0 ** -np.arange(5), np.linspace(1, 3, 5)])
    w = np.column_stack([np.linspace(2, 4, 5), np.full(5, 7.0)])
    grads.append(epochs, g, w)
    for k in range(2):
        np.testing.assert_allclose(
            path_points(grads.grad_curves[k]), np.c_[epochs, np.log10(g[:, k])]
        )
        np.testing.assert_allclose(
            path_points(grads.weight_curves[k]), np.c_[epochs, np.log10(w[:, k])]
        )
    assert grads.plot.getPlotItem().ctrl.logYCheck.isChecked()
    legend = [label.text for _, label in grads.legend.items]
    assert legend == ["Linear 1 (2→8)", "Linear 2 (8→1)"]


def test_gradient_plot_drops_zero_nan_and_inf_from_the_log_axis(grads):
    epochs = np.arange(6, dtype=float)
    g = np.array([[1.0, 0.0], [np.nan, 2.0], [np.inf, 3.0], [-1.0, 4.0], [0.5, -np.inf], [2, 1]])
    grads.append(epochs, g, np.ones_like(g))
    first = path_points(grads.grad_curves[0])
    np.testing.assert_allclose(first, [[0, 0.0], [4, np.log10(0.5)], [5, np.log10(2)]])
    assert len(path_points(grads.grad_curves[1])) == 4
    view = grads.plot.getPlotItem().getViewBox()
    view.updateAutoRange()
    assert np.isfinite(np.array(view.viewRange())).all()


def test_gradient_plot_appends_incrementally_and_a_reset_replaces(grads):
    rng = np.random.default_rng(1)
    g, w = rng.uniform(0.1, 1, (30, 2)), rng.uniform(1, 2, (30, 2))
    for start in range(0, 30, 7):  # the snapshot rate: a few epochs at a time
        part = slice(start, start + 7)
        grads.append(np.arange(30.0)[part], g[part], w[part])
    np.testing.assert_array_equal(grads.epochs(), np.arange(30.0))
    np.testing.assert_array_equal(grads.grad_norms(), g)
    np.testing.assert_array_equal(grads.weight_norms(), w)
    grads.append(np.array([0.0, 1.0]), g[:2] * 2, w[:2])  # a new run from epoch 0
    np.testing.assert_array_equal(grads.epochs(), [0.0, 1.0])
    np.testing.assert_allclose(path_points(grads.grad_curves[1])[:, 1], np.log10(2 * g[:2, 1]))
    grads.append(np.arange(2.0, 600.0), np.ones((598, 2)), np.ones((598, 2)))  # grows
    assert grads.size == 600
    grads.clear()
    assert grads.size == 0 and len(path_points(grads.grad_curves[0])) == 0


def test_gradient_plot_says_what_is_wrong_with_bad_shapes(grads):
    with pytest.raises(ValueError, match="2 labelled"):
        grads.append(np.arange(3.0), np.ones((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="norms"):
        grads.append(np.arange(3.0), np.ones((3, 2)), np.ones((2, 2)))


def test_gradient_plot_without_labels_names_the_layers(qtbot):
    widget = GradientPlot()
    qtbot.addWidget(widget)
    widget.append(np.arange(2.0), np.ones((2, 3)), np.ones((2, 3)))
    assert widget.labels == ["Linear 1", "Linear 2", "Linear 3"]


def test_mark_divergence_thickens_that_layer_and_shows_the_note(grads, qtbot):
    grads.show()
    grads.append(np.arange(3.0), np.array([[1, 1], [1, 1e9], [1, np.inf]]), np.ones((3, 2)))
    grads.mark_divergence(1, "Training diverged: Linear 2's gradient blew up")
    assert grads.highlighted == 1
    assert grads.grad_curves[1].pen().widthF() > grads.grad_curves[0].pen().widthF()
    assert grads.grad_curves[0].pen().color().alpha() < 255
    assert grads.note.isVisible() and "Linear 2" in grads.note.text()
    grads.mark_divergence(None, "")
    assert grads.highlighted is None and not grads.note.isVisible()
    assert grads.grad_curves[0].pen().color().alpha() == 255


# -- hidden space --------------------------------------------------------------------------


def hidden_space(n: int = 40, lines: int = 5, m: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.linspace(-1, 1, m)
    grid = np.empty((2, lines, m, 2))
    for k, c in enumerate(np.linspace(-1, 1, lines)):
        grid[0, k] = np.tanh(np.c_[np.full(m, c), t] * 1.5)  # x1 = c, warped
        grid[1, k] = np.tanh(np.c_[t, np.full(m, c)] * 1.5)
    return HiddenSpace(
        points=rng.uniform(-1, 1, (n, 2)),
        labels=rng.integers(0, 2, n),
        is_test=rng.random(n) < 0.3,
        grid=grid,
        axis_labels=("h1,1", "h1,2"),
    )


@pytest.fixture
def hidden(qtbot):
    widget = HiddenSpaceView()
    qtbot.addWidget(widget)
    return widget


def columns_of_seed() -> list[Column]:
    return stack_columns("linear:8,tanh,linear:4,tanh,linear:1,sigmoid")


def test_hidden_view_draws_the_points_and_the_grid_lines(hidden):
    space = hidden_space()
    hidden.show(space)
    for test, scatters in ((False, hidden.train_points), (True, hidden.test_points)):
        for cls, scatter in enumerate(scatters):
            x, y = scatter.getData()
            chosen = (space.is_test == test) & (space.labels == cls)
            np.testing.assert_array_equal(np.c_[x, y], space.points[chosen])
    for curve, family in ((hidden.grid_x1, space.grid[0]), (hidden.grid_x2, space.grid[1])):
        x, y = curve.getData()
        np.testing.assert_array_equal(np.c_[x, y], family.reshape(-1, 2))
        connect = curve.opts["connect"].reshape(family.shape[:2])
        assert connect[:, :-1].all() and not connect[:, -1].any()  # one polyline per line
    item = hidden.plot.getPlotItem()
    assert item.getAxis("bottom").labelText == "h1,1"
    assert item.getAxis("left").labelText == "h1,2"
    for cls, (disc, ring) in enumerate(zip(hidden.train_points, hidden.test_points, strict=True)):
        assert disc.opts["brush"].color() == (CLASS0, CLASS1)[cls]
        assert ring.opts["brush"].style() == Qt.BrushStyle.NoBrush  # test points: rings


def test_hidden_view_updates_in_place_and_skips_non_finite_grid_points(hidden):
    space = hidden_space()
    hidden.show(space)
    items = list(hidden.plot.getPlotItem().items)
    space.grid[0, 1, 4] = np.nan
    space = replace(space, points=space.points * 3)
    hidden.show(space)
    assert list(hidden.plot.getPlotItem().items) == items  # no item made anew
    x, _ = hidden.train_points[1].getData()
    np.testing.assert_array_equal(x, space.points[~space.is_test & (space.labels == 1), 0])
    _, _, connect = polyline_arrays(space.grid[0])
    np.testing.assert_array_equal(hidden.grid_x1.opts["connect"], connect)
    assert not connect[1 * 9 + 3] and not connect[1 * 9 + 4]  # neither side of the NaN point
    x_range, y_range = hidden.plot.getPlotItem().getViewBox().viewRange()
    assert x_range[0] <= space.points[:, 0].min() and space.points[:, 0].max() <= x_range[1]


def test_hidden_view_pickers_emit_the_choice(hidden, qtbot):
    seen = []
    hidden.choiceChanged.connect(lambda column, units: seen.append((column, units)))
    hidden.set_columns(columns_of_seed())
    assert seen == [(1, (0, 1))]  # the first hidden column, its first two units
    assert hidden.column_box.count() == 3  # the 1-unit output column cannot be drawn
    hidden.unit_b.setCurrentIndex(5)
    assert seen[-1] == (1, (0, 5))
    assert hidden.unit_b.currentText() == "h1,6"
    hidden.pca.setChecked(True)
    assert seen[-1] == (1, None) and not hidden.unit_a.isEnabled()
    hidden.column_box.setCurrentIndex(2)
    assert seen[-1] == (2, None)
    hidden.pca.setChecked(False)
    assert seen[-1] == (2, (0, 1))
    hidden.unit_a.setCurrentIndex(3)
    hidden.set_columns(columns_of_seed())  # a snapshot of the same network keeps the choice
    assert seen[-1] == (2, (3, 1))


def test_hidden_view_without_a_drawable_layer_says_so(hidden):
    seen = []
    hidden.choiceChanged.connect(lambda column, units: seen.append((column, units)))
    hidden.set_columns([columns_of_seed()[3]])
    assert seen == [] and hidden.choice() is None
    assert "two or more units" in hidden.empty.toPlainText()
    assert not hidden.column_box.isEnabled()


# -- with a real session -------------------------------------------------------------------


def test_the_three_widgets_draw_what_a_trained_session_returns(qtbot):
    from playground.experiment import Experiment
    from playground.session import Session

    session = Session(Experiment())
    session.step(3)
    panel, grads, view = MathsPanel(), GradientPlot(), HiddenSpaceView()
    for widget in (panel, grads, view):
        qtbot.addWidget(widget)

    column = session.columns[1]
    w, b, dw = session.layer_matrices(1)
    panel.show_column(column, w, b, dw)
    np.testing.assert_array_equal(panel.grad_plot.image.image, dw.astype(np.float32))
    assert column.forward[0] in "\n".join(panel.formula_lines())

    rows = session.history_rows()
    grads.set_labels(session.norm_labels)
    grads.append(rows.epoch, rows.grad_norms, rows.weight_norms)
    np.testing.assert_array_equal(grads.grad_norms(), rows.grad_norms)
    grads.mark_divergence(session.norm_labels[-1], "diverged")  # a label, as the session names it
    assert grads.highlighted == len(session.norm_labels) - 1

    view.choiceChanged.connect(lambda c, units: view.show(session.hidden_space(c, units)))
    view.set_columns(session.columns)
    space = session.hidden_space(1, (0, 1))
    x, y = view.train_points[1].getData()
    chosen = ~space.is_test & (space.labels == 1)
    np.testing.assert_array_equal(np.c_[x, y], space.points[chosen])
    view.pca.setChecked(True)
    assert view.plot.getPlotItem().getAxis("bottom").labelText == "PC 1"
