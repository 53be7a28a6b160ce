"""Issue 13's problems in the app: regression (plane, multigauss, your real-valued points), many
classes (spiral with K arms, blobs, rings, your labels 0..K-1), the new datasets, activations,
regularisation and initialisation; the experiment file stays readable.

Metrics are checked against their formulas computed here from the exported model's own
predictions (R² = 1 - SS_res / SS_tot, RMSE, accuracy, the confusion counts), not against the
session's numbers copied back.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import minidl
from playground.experiment import (
    ACTIVATIONS,
    DATASET_CHOICES,
    DataPoint,
    DataSpec,
    Experiment,
    ExperimentError,
    NetworkSpec,
    TrainSpec,
    load_experiment,
)
from playground.session import GRID_SIZE, Session
from playground.worker import TrainingController

EXAMPLES = Path(__file__).resolve().parent.parent / "playground" / "resources" / "examples"


def plane_experiment(**train) -> Experiment:
    """TF Playground's plane regression with a small Tanh network (its own default kind)."""
    return Experiment(
        NetworkSpec.parse("linear:8,tanh,linear:1"),
        DataSpec(dataset="plane", points=500),
        TrainSpec(loss="mse", learning_rate=0.03, batch_size=10, **train),
    )


def spiral3_experiment(**train) -> Experiment:
    """Three spiral arms, a score per class and categorical cross-entropy."""
    return Experiment(
        NetworkSpec.parse("linear:32,relu,linear:32,relu,linear:3"),
        DataSpec(dataset="spiral", classes=3, points=1500),
        TrainSpec(
            loss="cross_entropy", optimizer="adam", learning_rate=0.01, batch_size=30, **train
        ),
    )


def test_outputs(session: Session, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(model outputs, targets) of a split from the exported model of raw points (torch)."""
    arrays = session.data_arrays()
    x, y = (arrays.x_test, arrays.y_test) if split == "test" else (arrays.x_train, arrays.y_train)
    model = session.export_model()
    with minidl.no_grad():
        out = model(torch.from_numpy(x)).data.double().numpy()
    return out, y


test_outputs.__test__ = False  # a helper, not a test


@pytest.fixture
def controller(qtbot):
    ctrl = TrainingController()
    yield ctrl
    ctrl.shutdown()


def train_in_worker(qtbot, controller, experiment: Experiment) -> tuple[Session, list]:
    """Play in the worker process until the epoch limit; the session back and the snapshots."""
    controller.start(Session(experiment))
    snaps: list = []
    controller.snapshot.connect(snaps.append)
    with qtbot.waitSignal(controller.stopped, timeout=120_000) as blocker:
        controller.play()
    assert "epoch limit" in blocker.args[0]
    return controller.session, snaps


# -- regression ----------------------------------------------------------------------------------


def test_plane_regression_trains_through_the_worker_to_r2_095(qtbot, controller):
    session, snaps = train_in_worker(qtbot, controller, plane_experiment(max_epochs=30))
    last = snaps[-1]
    assert last.epoch == 30 and last.test_accuracy >= 0.95
    # the snapshot's R² and RMSE are the formulas' on the exported model's predictions
    out, y = test_outputs(session)
    residual = ((y - out[:, 0]) ** 2).sum()
    r2 = 1 - residual / ((y - y.mean()) ** 2).sum()
    assert last.test_accuracy == pytest.approx(r2, abs=1e-6)
    assert last.test_rmse == pytest.approx(math.sqrt(residual / len(y)), abs=1e-6)
    assert last.history.test_rmse[-1] == pytest.approx(last.test_rmse)
    # the grid is the predicted value itself (not clamped to a probability)
    assert last.grid.shape == (GRID_SIZE, GRID_SIZE)
    assert last.grid.min() < -0.5 and last.grid.max() > 0.5


def test_regression_training_rmse_is_the_formulas_too():
    session = Session(plane_experiment())
    session.step(3)
    out, y = test_outputs(session, "train")
    rows = session.history_rows()
    assert rows.train_rmse[-1] == pytest.approx(np.sqrt(((y - out[:, 0]) ** 2).mean()), abs=1e-6)


def test_a_regression_has_no_confusion_matrix_and_float_targets():
    session = Session(plane_experiment())
    with pytest.raises(ExperimentError, match="no confusion matrix"):
        session.confusion()
    arrays = session.data_arrays()
    assert arrays.is_regression and arrays.y_train.dtype == np.float32
    low, high = arrays.value_range()
    # plane's targets are (x1 + x2) / 10 over [-6, 6]²: up to ±1.2, both signs
    assert low == -high and 1.0 <= high <= 1.2


def test_your_real_valued_points_train_as_a_regression():
    points = tuple(
        DataPoint(float(x1), float(x2), float(x1 - x2) / 8, test=i % 4 == 0)
        for i, (x1, x2) in enumerate(np.random.default_rng(0).uniform(-4, 4, (200, 2)))
    )
    data = DataSpec().with_imported(points, regression=True)
    exp = Experiment(NetworkSpec.parse("linear:1"), data, TrainSpec(learning_rate=0.1))
    session = Session(exp)
    session.step(20)
    assert session.snapshot(grid=False).test_accuracy > 0.999  # a line fits a linear target


@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
def test_a_regression_refuses_the_cross_entropies(loss):
    exp = plane_experiment().replace(
        network=NetworkSpec.parse(
            "linear:8,tanh,linear:1,sigmoid" if loss == "bce" else "linear:8,tanh,linear:1"
        ),
        train=TrainSpec(loss=loss),
    )
    problems = exp.problems()
    assert any("real-valued targets" in p for p in problems), problems


def test_a_regression_output_is_linear_or_tanh():
    tanh = plane_experiment().replace(network=NetworkSpec.parse("linear:8,relu,linear:1,tanh"))
    assert not tanh.problems()
    sigmoid = tanh.replace(network=NetworkSpec.parse("linear:8,relu,linear:1,sigmoid"))
    assert any("not a Sigmoid" in p for p in sigmoid.problems())
    # the command line's fix: the seed network, its Sigmoid dropped
    fitted = Experiment(data=DataSpec(dataset="plane")).with_fitting_output()
    assert fitted.network.output_tail() == () and not fitted.problems()


# -- many classes ----------------------------------------------------------------------------------


def test_a_3_class_spiral_trains_through_the_worker_to_090(qtbot, controller):
    session, snaps = train_in_worker(qtbot, controller, spiral3_experiment(max_epochs=30))
    last = snaps[-1]
    assert last.test_accuracy >= 0.9
    out, y = test_outputs(session)
    assert last.test_accuracy == pytest.approx((out.argmax(1) == y).mean(), abs=1e-9)
    # the grid holds each class's probability
    assert last.grid.shape == (3, GRID_SIZE, GRID_SIZE)
    np.testing.assert_allclose(last.grid.sum(axis=0), 1.0, atol=1e-5)


def test_the_k_by_k_confusion_matrix_counts_the_exported_models_predictions():
    session = Session(spiral3_experiment())
    session.step(3)
    out, y = test_outputs(session)
    predicted = out.argmax(1)
    expected = np.array([[np.sum((y == i) & (predicted == j)) for j in range(3)] for i in range(3)])
    matrix = session.confusion("test")
    np.testing.assert_array_equal(matrix, expected)
    assert np.trace(matrix) / matrix.sum() == pytest.approx(session.snapshot().test_accuracy)


def test_the_k_class_grid_is_the_softmax_of_the_scores_at_the_pixel_centres():
    session = Session(spiral3_experiment())
    session.step(1)
    points = torch.from_numpy(session.grid_points(GRID_SIZE))
    with minidl.no_grad():
        scores = session.export_model()(points).data.double()
    expected = torch.softmax(scores, dim=1).T.reshape(3, GRID_SIZE, GRID_SIZE).numpy()
    np.testing.assert_allclose(session.decision_grid(), expected, atol=1e-5)


@pytest.mark.parametrize("dataset", ["spiral", "blobs", "rings"])
@pytest.mark.parametrize("classes", [2, 4, 10])
def test_the_many_class_datasets_make_k_classes(dataset, classes):
    exp = spiral3_experiment().replace(data=DataSpec(dataset=dataset, classes=classes, points=400))
    session = Session(exp)
    arrays = session.data_arrays()
    assert set(np.concatenate([arrays.y_train, arrays.y_test]).tolist()) == set(range(classes))
    assert session.model[-1].out_features == classes == session.classes
    assert session.confusion().shape == (classes, classes)


def test_your_labels_0_to_k_minus_1_make_k_classes():
    points = tuple(DataPoint(float(i), float(i % 5), i % 5) for i in range(50))
    data = DataSpec().with_imported(points)
    assert data.classes == 5
    exp = spiral3_experiment().replace(data=data)
    assert Session(exp).model[-1].out_features == 5


@pytest.mark.parametrize(
    ("data", "train", "says"),
    [
        (
            DataSpec(dataset="spiral", classes=3),
            TrainSpec(loss="mse"),
            "3 classes need categorical",
        ),
        (DataSpec(dataset="disk", classes=3), TrainSpec(loss="cross_entropy"), "has two classes"),
        (DataSpec(dataset="spiral", classes=11), TrainSpec(loss="cross_entropy"), "2 to 10"),
    ],
)
def test_many_classes_explain_what_they_need(data, train, says):
    network = NetworkSpec.parse("linear:8,relu,linear:3")
    problems = Experiment(network, data, train).problems()
    assert any(says in p for p in problems), problems


def test_your_points_labels_must_fit_the_classes():
    data = DataSpec(dataset="spiral", added=(DataPoint(0.0, 0.0, 2),))
    assert any("class 0 to 1" in p for p in data.problems())
    assert not replace(data, classes=3).problems()


# -- datasets, activations, regularisation, initialisation ---------------------------------------


@pytest.mark.parametrize("dataset", ["moons", "checkerboard", "rings", "blobs", "multigauss"])
def test_every_new_dataset_is_offered_and_trains(dataset):
    assert dataset in DATASET_CHOICES
    regression = dataset == "multigauss"
    exp = Experiment(
        NetworkSpec.parse("linear:8,relu,linear:1" if regression else "linear:8,relu,linear:3"),
        DataSpec(
            dataset=dataset,
            points=200,
            noise=0.1,
            seed=3,
            classes=3 if dataset in ("rings", "blobs") else 2,
        ),
        TrainSpec(loss="mse" if regression else "cross_entropy"),
    )
    assert not exp.problems(), exp.problems()
    session = Session(exp)
    session.step(2)
    assert math.isfinite(session.history.train_loss[-1])
    again = Session(exp).data_arrays()  # the data seed reproduces the points
    np.testing.assert_array_equal(again.x_train, session.data_arrays().x_train)


@pytest.mark.parametrize("kind", ["elu", "gelu", "silu", "softplus", "sine"])
def test_the_new_activations_build_the_engines_layers(kind):
    assert kind in ACTIVATIONS
    exp = Experiment(NetworkSpec.parse(f"linear:8,{kind},linear:1,sigmoid"))
    session = Session(exp)
    layer = session.model[1]
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    oracle = {
        "elu": torch.nn.ELU(),
        "gelu": torch.nn.GELU(),
        "silu": torch.nn.SiLU(),
        "softplus": torch.nn.Softplus(),
        "sine": torch.sin,
    }[kind]
    np.testing.assert_allclose(layer(x).data.numpy(), oracle(x).numpy(), atol=1e-12)
    assert NetworkSpec.parse(exp.network.to_text()) == exp.network


def _penalties(session: Session) -> dict[str, tuple[float, float]]:
    """(l1, weight_decay) of each parameter, by state-dict name."""
    names = {id(p): n for n, p in session.model.named_parameters()}
    return {
        names[id(p)]: (group["l1"], group["weight_decay"])
        for group in session.optimizer.param_groups
        for p in group["params"]
    }


@pytest.mark.parametrize("optimizer", ["sgd", "sgd_momentum", "adam"])
def test_regularisation_penalises_the_weights_not_the_biases_and_changes_live(optimizer):
    session = Session(Experiment(train=TrainSpec(optimizer=optimizer, weight_decay=0.01)))
    penalties = _penalties(session)
    assert {penalties[n] for n in penalties if n.endswith("weight")} == {(0.0, 0.01)}
    assert {penalties[n] for n in penalties if n.endswith("bias")} == {(0.0, 0.0)}
    session.apply_training(replace(session.experiment.train, regularization="l1"))
    penalties = _penalties(session)
    assert {penalties[n] for n in penalties if n.endswith("weight")} == {(0.01, 0.0)}
    assert {penalties[n] for n in penalties if n.endswith("bias")} == {(0.0, 0.0)}
    session.apply_training(replace(session.experiment.train, regularization="none"))
    assert set(_penalties(session).values()) == {(0.0, 0.0)}


def test_l1_at_a_high_rate_sets_weights_to_exactly_zero():
    exp = Experiment(train=TrainSpec(regularization="l1", weight_decay=0.05, max_epochs=5))
    session = Session(exp)
    session.step(5)
    zeros = sum(int((m.weight.data == 0).sum()) for m in session.model if hasattr(m, "weight"))
    assert zeros > 0  # Playground's rule: a weight L1 carries across zero stops at zero
    assert all(bool((m.bias.data != 0).any()) for m in session.model if hasattr(m, "bias"))


def test_zero_initial_weights_never_break_the_symmetry():
    exp = Experiment(
        NetworkSpec.parse("linear:6,tanh,linear:1,sigmoid"), train=TrainSpec(init="zeros")
    )
    session = Session(exp)
    assert all(float(p.data.abs().max()) == 0 for p in session.model.parameters())
    session.step(3)
    first = session.model[0].weight.data
    # every hidden unit got the same gradient at every step: the rows stay equal
    assert torch.equal(first, first[:1].expand_as(first))


def test_pytorch_initialisation_draws_within_its_bound():
    session = Session(Experiment(train=TrainSpec(init="pytorch")))
    first = session.model[0]
    bound = 1 / math.sqrt(first.in_features)
    assert float(first.weight.data.abs().max()) <= bound
    assert float(first.bias.data.abs().max()) > 0  # torch draws the biases too


# -- the experiment file ---------------------------------------------------------------------------


def test_a_two_class_experiments_file_has_no_new_fields():
    doc = json.loads(Experiment().to_json())
    assert "classes" not in doc["data"] and "regression" not in doc["data"]
    assert "regularization" not in doc["training"] and "init" not in doc["training"]


def test_an_older_file_reads_with_the_defaults_it_meant():
    doc = json.loads(Experiment(train=TrainSpec(weight_decay=0.003)).to_json())
    exp, _ = load_experiment(json.dumps(doc))
    assert exp.data.classes == 2 and exp.task == "classification"
    assert exp.train.regularization == "l2" and exp.train.weight_decay == 0.003
    assert exp.train.init == "xavier"


def test_new_settings_round_trip_through_the_file():
    exp = spiral3_experiment().replace(
        train=replace(
            spiral3_experiment().train, regularization="l1", weight_decay=0.001, init="pytorch"
        )
    )
    assert Experiment.from_json(exp.to_json()) == exp
    points = (DataPoint(0.5, 0.25, -0.75), DataPoint(1.0, 2.0, 0.125, True))
    regression = Experiment(data=DataSpec().with_imported(points, regression=True))
    back = Experiment.from_json(regression.to_json())
    assert back == regression and back.task == "regression"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_opens_and_trains(path):
    exp, weights = load_experiment(path.read_text())
    assert not exp.problems(), exp.problems()
    session = Session(exp)
    session.step(1)
    assert math.isfinite(session.history.train_loss[-1])


# -- the window ------------------------------------------------------------------------------------


def _nearest(colour, palette) -> int:
    rgb = np.array(colour[:3], dtype=float)
    return int(np.argmin([np.abs(rgb - np.array(c.getRgb()[:3])).sum() for c in palette]))


def _tint(pixel, palette, base=(245.0, 245.0, 245.0)) -> int:
    """Which colour's line from the light grey ``base`` passes nearest ``pixel``."""
    p, b = np.array(pixel[:3], dtype=float), np.array(base)
    distances = []
    for colour in palette:
        d = np.array(colour.getRgb()[:3], dtype=float) - b
        t = np.clip((p - b) @ d / (d @ d), 0.0, 1.0)
        distances.append(np.linalg.norm(p - (b + t * d)))
    return int(np.argmin(distances))


def _step(window, qtbot, epochs: int = 1) -> None:
    for epoch in range(1, epochs + 1):
        window.controls.step_action.trigger()
        qtbot.waitUntil(lambda e=epoch: window.last_snapshot.epoch >= e, timeout=30_000)
        qtbot.waitUntil(lambda: window.controller.is_idle, timeout=30_000)


def test_a_regression_shows_the_value_with_a_colour_bar(qtbot):
    from playground.widgets.colours import CLASS0, CLASS1
    from tests.windows import make_window

    window = make_window(qtbot, plane_experiment(), build_now=True)
    boundary = window.plots.boundary
    arrays = window._arrays
    assert boundary.classes == 0 and arrays.is_regression
    assert boundary.colorbar.isVisible() and not boundary.class_legend.isVisible()
    assert boundary.colorbar.getAxis("left").labelText == "predicted value"
    assert boundary.colorbar.levels() == pytest.approx(arrays.value_range())
    # points coloured by target on TF Playground's scale: the lowest orange, the highest blue
    brushes = boundary.train_points.data["brush"]
    low, high = int(np.argmin(arrays.y_train)), int(np.argmax(arrays.y_train))
    assert _nearest(brushes[low].color().getRgb(), (CLASS0, CLASS1)) == 0
    assert _nearest(brushes[high].color().getRgb(), (CLASS0, CLASS1)) == 1
    _step(window, qtbot, 3)
    assert "R² and RMSE" in window.plots.accuracy.getPlotItem().titleLabel.text
    text = window.controls.metrics_label.text()
    snap = window.last_snapshot
    assert f"R² {snap.test_accuracy:.3f}" in text and f"RMSE {snap.test_rmse:.4f}" in text
    # the heatmap is the predicted value over the colour bar's levels
    image = boundary.image
    assert image.image.ndim == 2 and image.levels == pytest.approx(arrays.value_range())
    window.confusion_action.trigger()
    assert "no confusion matrix" in window.confusion.caption.text()
    assert window.confusion.table.isHidden()


def test_three_classes_colour_regions_by_class_with_a_legend_and_a_3x3_matrix(qtbot):
    from playground.widgets.colours import TOL_MUTED, class_colours
    from tests.windows import make_window

    window = make_window(qtbot, spiral3_experiment(), build_now=True)
    boundary = window.plots.boundary
    assert boundary.classes == 3
    assert boundary.class_legend.isVisible() and not boundary.colorbar.isVisible()
    names = [label.text for _, label in boundary.class_legend.items]
    assert names == ["class 0", "class 1", "class 2"]
    assert class_colours(3) == TOL_MUTED[:3]
    _step(window, qtbot, 5)
    grid = window.last_snapshot.grid
    rgb = boundary.image.image
    assert grid.shape == (3, GRID_SIZE, GRID_SIZE) and rgb.shape == (GRID_SIZE, GRID_SIZE, 3)
    # where a class is surest, the pixel is that class's colour faded towards the grey
    for k in range(3):
        i2, i1 = np.unravel_index(np.argmax(grid[k]), grid[k].shape)
        assert _tint(rgb[i2, i1], TOL_MUTED[:3]) == k
    # points in their class colours
    arrays = window._arrays
    brushes = boundary.train_points.data["brush"]
    for k in range(3):
        first = int(np.flatnonzero(arrays.y_train == k)[0])
        assert brushes[first].color() == TOL_MUTED[k]
    window.confusion_action.trigger()
    table = window.confusion.table
    assert (table.rowCount(), table.columnCount()) == (3, 3) and not table.isHidden()
    counts = window.confusion.matrix
    assert counts.shape == (3, 3) and counts.sum() == len(arrays.y_test)
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(arrays.y_test, minlength=3))
    assert table.horizontalHeaderItem(2).text() == "predicted 2"


def test_the_palette_offers_the_new_activations_with_their_icons(qtbot):
    from PySide6.QtGui import QUndoStack

    from playground.widgets.network_builder import NetworkBuilder

    builder = NetworkBuilder(QUndoStack())
    qtbot.addWidget(builder)
    palette = builder.palette_list
    titles = {palette.item(i).text(): palette.item(i) for i in range(palette.count())}
    for title in ("ELU", "GELU", "SiLU", "Softplus", "Sine"):
        assert title in titles
        assert not titles[title].icon().isNull()
        assert titles[title].toolTip()


def test_the_data_panel_offers_classes_where_the_dataset_takes_them(qtbot):
    from playground.widgets.data_panel import DataPanel

    panel = DataPanel()
    qtbot.addWidget(panel)
    specs: list = []
    panel.spec_changed.connect(specs.append)
    panel.dataset.setCurrentIndex(panel.dataset.findData("blobs"))
    assert specs[-1].dataset == "blobs" and specs[-1].classes == 3  # the engine's default
    assert panel.classes.isEnabled()
    panel.classes.setValue(6)
    assert specs[-1].classes == 6
    panel.dataset.setCurrentIndex(panel.dataset.findData("plane"))
    assert specs[-1].task == "regression" and not panel.classes.isEnabled()
    panel.dataset.setCurrentIndex(panel.dataset.findData("moons"))
    assert specs[-1].classes == 2 and not panel.classes.isEnabled()


def test_the_training_controls_set_regularisation_and_initialisation(qtbot):
    from playground.widgets.training_controls import TrainingControls

    controls = TrainingControls()
    qtbot.addWidget(controls)
    # each row's label is a mnemonic for its box (Alt+G), not a literal "&" on screen
    from PySide6.QtWidgets import QLabel

    buddies = {label.buddy(): label.text() for label in controls.findChildren(QLabel)}
    assert buddies[controls.regularization] == "Re&gularisation"
    assert buddies[controls.init] == "&Initial weights"
    specs: list = []
    controls.spec_changed.connect(specs.append)
    controls.regularization.setCurrentIndex(controls.regularization.findData("l1"))
    controls.weight_decay.setValue(0.003)
    assert (specs[-1].regularization, specs[-1].weight_decay) == ("l1", 0.003)
    controls.regularization.setCurrentIndex(controls.regularization.findData("none"))
    assert specs[-1].regularization == "none" and not controls.weight_decay.isEnabled()
    controls.init.setCurrentIndex(controls.init.findData("zeros"))
    assert specs[-1].init == "zeros"
    controls.set_spec(TrainSpec(init="pytorch", regularization="l2"))
    assert controls.init.currentData() == "pytorch" and controls.weight_decay.isEnabled()


# -- the scripted launch ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("flags", "outputs"),
    [
        (["--dataset", "plane"], 1),
        (["--dataset", "spiral", "--classes", "3", "--loss", "cross_entropy"], 3),
    ],
    ids=["plane", "spiral-3"],
)
def test_a_scripted_launch_exports_a_model_minidl_torch_and_onnx_agree_on(flags, outputs, tmp_path):
    import os
    import subprocess
    import sys

    import onnxruntime
    from safetensors.torch import load_file

    from minidl.data import plane, spiral

    model, graph = tmp_path / "x.safetensors", tmp_path / "x.onnx"
    extra = ["--optimizer", "adam", "--lr", "0.01"] if outputs > 1 else []
    cmd = [sys.executable, str(ROOT / "main.py"), *flags, *extra, "--epochs", "30", "--train"]
    cmd += ["--export", str(model), "--export", str(graph), "--quit-when-done"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # torch: the seed network's layout (no --layers: the output follows the task, no Sigmoid)
    layers: list[torch.nn.Module] = []
    for width_in, width_out in ((2, 25), (25, 25), (25, 25)):
        layers += [torch.nn.Linear(width_in, width_out), torch.nn.ReLU()]
    reference = torch.nn.Sequential(*layers, torch.nn.Linear(25, outputs))
    reference.load_state_dict(load_file(model))
    x, y = plane(2000, seed=99) if outputs == 1 else spiral(2000, classes=3, seed=99)
    with torch.no_grad():
        expected = reference(x)
    loaded = minidl.load(model)
    with minidl.no_grad():
        np.testing.assert_allclose(loaded(x).data.numpy(), expected.numpy(), atol=1e-5)
    runtime = onnxruntime.InferenceSession(str(graph))
    (onnx_out,) = runtime.run(None, {runtime.get_inputs()[0].name: x.numpy()})
    if outputs == 1:
        np.testing.assert_allclose(onnx_out, expected.numpy(), atol=1e-5)
        residual = ((y - expected[:, 0]) ** 2).sum()
        assert 1 - residual / ((y - y.mean()) ** 2).sum() >= 0.95  # fresh points, R²
    else:  # the ONNX graph ends with the softmax
        np.testing.assert_allclose(onnx_out, torch.softmax(expected, 1).numpy(), atol=1e-5)
        assert (expected.argmax(1) == y).double().mean() >= 0.9


# -- stop conditions on the metric -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "target", "name"),
    [(plane_experiment, 0.95, "R²"), (spiral3_experiment, 0.9, "accuracy")],
    ids=["regression R²", "3-class accuracy"],
)
def test_training_stops_once_the_test_metric_reaches_its_target(make, target, name):
    session = Session(make(target_test_metric=target))
    reason = session.step(200)
    history = session.history.test_accuracy
    assert reason is not None and f"test {name} reached" in reason
    assert history[-1] >= target and all(value < target for value in history[:-1])
    assert session.epoch < 200
    blocker = session.play_blocker()
    assert blocker is not None and f"test {name}" in blocker and "already at the target" in blocker


def test_the_metric_stop_condition_is_named_for_the_task(qtbot):
    from tests.windows import make_window

    window = make_window(qtbot, plane_experiment(), build_now=True)
    controls = window.controls
    assert controls.stop_metric.text() == "At test R² ≥"
    window.data_panel.dataset.setCurrentIndex(window.data_panel.dataset.findData("spiral"))
    assert controls.stop_metric.text() == "At test accuracy ≥"
    specs: list = []
    controls.spec_changed.connect(specs.append)
    controls.stop_metric.setChecked(True)
    controls.target_metric.setValue(0.97)
    assert specs[-1].target_test_metric == 0.97


# -- the command line and model files -------------------------------------------------------------


def test_the_command_line_sets_classes_and_fits_the_output_to_the_task():
    from playground.app import parse_args

    _, exp = parse_args(["--dataset", "blobs", "--loss", "cross_entropy"])
    assert exp.data.classes == 3 and exp.out_width == 3  # blobs start with three
    _, exp = parse_args(["--dataset", "spiral", "--classes", "5", "--loss", "cross_entropy"])
    assert exp.out_width == 5 and exp.network.output_tail() == ()
    _, exp = parse_args(["--dataset", "plane", "--loss", "huber", "--init", "zeros"])
    assert exp.task == "regression" and exp.train.init == "zeros"
    _, exp = parse_args(["--regularization", "l1", "--weight-decay", "0.001"])
    assert (exp.train.regularization, exp.train.weight_decay) == ("l1", 0.001)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--dataset", "disk", "--classes", "3", "--loss", "cross_entropy"], "two classes"),
        (["--dataset", "spiral", "--classes", "3"], "need categorical cross-entropy"),
        (["--dataset", "plane", "--loss", "bce"], "real-valued targets"),
    ],
)
def test_a_command_line_the_task_cannot_train_exits_2_saying_why(argv, says, capsys):
    from playground.app import parse_args

    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2 and says in capsys.readouterr().err


def test_a_model_of_k_scores_imports_with_k_classes(tmp_path):
    from playground.session import experiment_with_model, read_model

    session = Session(spiral3_experiment().replace(data=DataSpec(dataset="blobs", classes=4)))
    session.save_model(tmp_path / "four.safetensors")
    imported = read_model(tmp_path / "four.safetensors")
    assert imported.loss == "cross_entropy"
    exp = experiment_with_model(Experiment(data=DataSpec(dataset="rings")), imported)
    assert exp.data.classes == 4 and exp.out_width == 4 and not exp.problems()
    again = Session(exp)
    again.load_raw_state(imported.state)
    np.testing.assert_allclose(
        again.predict_points(np.array([[0.5, -1.0], [2.0, 3.0]], dtype=np.float32)),
        session.predict_points(np.array([[0.5, -1.0], [2.0, 3.0]], dtype=np.float32)),
        atol=1e-5,
    )


@pytest.mark.parametrize("make", [plane_experiment, spiral3_experiment], ids=["plane", "spiral-3"])
def test_a_hovered_units_map_comes_and_goes_over_the_tasks_colours(make, qtbot):
    from tests.windows import make_window

    window = make_window(qtbot, make(), build_now=True)
    boundary = window.plots.boundary
    before = (boundary.colorbar.isVisible(), boundary.colorbar.getAxis("left").labelText)
    unit = np.linspace(-2, 2, GRID_SIZE * GRID_SIZE, dtype=np.float32).reshape(GRID_SIZE, -1)
    boundary.show_map(unit, (-2.0, 2.0), "unit 3")
    assert boundary.colorbar.isVisible() and boundary.image.image.ndim == 2
    assert boundary.colorbar.getAxis("left").labelText == "unit output"
    assert boundary.colorbar.levels() == pytest.approx((-2.0, 2.0))
    boundary.show_map(None)
    after = (boundary.colorbar.isVisible(), boundary.colorbar.getAxis("left").labelText)
    assert after == before
    if boundary.classes == 0:
        assert boundary.colorbar.levels() == pytest.approx(window._arrays.value_range())
        assert boundary.image.image.ndim == 2
    else:
        assert boundary.image.image.shape == (GRID_SIZE, GRID_SIZE, 3)  # the regions again


def test_the_hidden_space_draws_k_classes_and_a_regressions_targets(qtbot):
    from playground.widgets.colours import TOL_MUTED
    from playground.widgets.hidden_view import REGRESSION_BANDS, HiddenSpaceView

    view = HiddenSpaceView()
    qtbot.addWidget(view)
    spiral = Session(spiral3_experiment())
    hidden = spiral.hidden_space(1, None)
    view.show(hidden)
    assert [s.opts["brush"].color() for s in view.train_points] == list(TOL_MUTED[:3])
    for k, scatter in enumerate(view.train_points):  # each class's training points, all of them
        assert len(scatter.getData()[0]) == int(np.sum((hidden.labels == k) & ~hidden.is_test))
    plane = Session(plane_experiment())
    hidden = plane.hidden_space(1, None)
    view.show(hidden)
    assert len(view.train_points) == REGRESSION_BANDS
    drawn = sum(len(s.getData()[0]) for s in (*view.train_points, *view.test_points))
    assert drawn == len(hidden.labels)
    # the lowest target in the first (orange) band, the highest in the last (blue)
    lowest, highest = (
        hidden.points[np.argmin(hidden.labels)],
        hidden.points[np.argmax(hidden.labels)],
    )
    bands = [np.column_stack(s.getData()) for s in (*view.train_points, *view.test_points)]
    first = np.concatenate([bands[0], bands[REGRESSION_BANDS]])
    last = np.concatenate([bands[REGRESSION_BANDS - 1], bands[-1]])
    assert (
        np.isclose(first, lowest).all(axis=1).any() and np.isclose(last, highest).all(axis=1).any()
    )


def test_a_click_adds_the_chosen_class_of_k(qtbot):
    from PySide6.QtCore import Qt

    from tests.windows import make_window

    window = make_window(qtbot, spiral3_experiment(), build_now=True)
    chooser = window.data_panel.click_class
    assert chooser.maximum() == 2 and chooser.value() == 1
    chooser.setValue(2)
    window._on_plot_clicked(1.0, 2.0, Qt.KeyboardModifier.NoModifier)
    window._on_plot_clicked(3.0, 4.0, Qt.KeyboardModifier.ShiftModifier)
    added = window.experiment.data.added
    assert [(p.x1, p.x2, p.label) for p in added] == [(1.0, 2.0, 2), (3.0, 4.0, 0)]
    assert window.session is not None and window.session.classes == 3
    regression = make_window(qtbot, plane_experiment(), build_now=True)
    regression._on_plot_clicked(1.0, 2.0, Qt.KeyboardModifier.ShiftModifier)
    assert regression.experiment.data.added[-1].label == -1.0
    assert not regression.data_panel.click_class.isEnabled()
