"""playground.session: building, training, snapshots and model files, checked without a window."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch
from oracle import torch_seed_network
from safetensors.torch import load_file

import minidl
from minidl import nn
from playground.experiment import DataSpec, Experiment, NetworkSpec, TrainSpec
from playground.session import (
    GRID_SIZE,
    Session,
    StopWhenSet,
    experiment_with_model,
    read_model,
)


@pytest.fixture(scope="module")
def trained() -> Session:
    """The default experiment (seed network, disk) after 30 epochs."""
    session = Session(Experiment())
    session.step(30)
    return session


def test_default_session_has_1000_train_and_1000_test_points():
    data = Session(Experiment()).data_arrays()
    assert data.x_train.shape == (1000, 2) and data.x_test.shape == (1000, 2)
    assert data.domain == (0.0, 1.0, 0.0, 1.0)
    # the disk's fact: label 1 exactly inside radius 1/sqrt(2 pi) around (0.5, 0.5)
    inside = ((data.x_train - 0.5) ** 2).sum(1) < 1 / (2 * math.pi)
    assert (inside == (data.y_train == 1)).all()


def test_inputs_are_standardised_on_the_training_points():
    session = Session(Experiment())
    x = session._x_train
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(x.std(0, correction=0), torch.ones(2), atol=1e-4)


def test_seed_network_reaches_093_on_the_disk(trained):
    assert trained.epoch == 30
    assert trained.history.test_accuracy[-1] >= 0.93
    assert trained.steps == 30 * 20  # 1000 points in batches of 50


def test_same_seed_gives_the_same_loss_curve():
    a, b = Session(Experiment()), Session(Experiment())
    a.step(3)
    b.step(3)
    assert a.history.train_loss == b.history.train_loss
    c = Session(Experiment(train=TrainSpec(seed=1)))
    c.step(3)
    assert c.history.train_loss != a.history.train_loss


def test_snapshot_carries_new_history_rows_and_a_probability_grid(trained):
    snap = trained.snapshot(since=25)
    assert snap.epoch == 30 and snap.history.start == 25
    assert list(snap.history.epoch) == [26, 27, 28, 29, 30]
    assert snap.test_accuracy == trained.history.test_accuracy[-1]
    assert snap.grid.shape == (GRID_SIZE, GRID_SIZE)
    assert snap.grid.min() >= 0.0 and snap.grid.max() <= 1.0
    # inside the disk the model says class 1, in the corners class 0
    assert snap.grid[GRID_SIZE // 2, GRID_SIZE // 2] > 0.5
    assert snap.grid[0, 0] < 0.5 and snap.grid[-1, -1] < 0.5
    assert trained.snapshot(grid=False).grid is None


def test_a_grid_drawn_from_a_snapshots_weights_equals_the_sessions_own(trained):
    snap = trained.snapshot(grid=False, weights=True)
    assert snap.grid is None and snap.epoch == 30
    other = Session(trained.experiment)  # untrained: same network, other weights
    before = {k: v.clone() for k, v in other.model.state_dict().items()}
    np.testing.assert_array_equal(other.decision_grid(snap.weights), trained.decision_grid())
    for key, value in other.model.state_dict().items():  # its own weights are untouched
        assert torch.equal(value, before[key]), key
    assert not np.array_equal(other.decision_grid(), trained.decision_grid())
    # the snapshot's weights are a copy: training on does not change them
    trained_weights = {k: v.copy() for k, v in snap.weights.items()}
    trained.step()
    for key, value in snap.weights.items():
        assert isinstance(value, np.ndarray)  # numpy: cheap to pickle between processes
        np.testing.assert_array_equal(value, trained_weights[key], err_msg=key)
    # the viewer model is a cache that never travels with the session
    assert "_viewer" not in trained.__getstate__() and "_viewer" not in other.__getstate__()


def test_grid_rows_run_along_x2_and_columns_along_x1():
    # one Linear computing x1 (raw weights [1, 0]): the grid must rise along its columns
    exp = Experiment(network=NetworkSpec.parse("linear:1"))
    session = Session(exp)
    session.load_raw_state({"0.weight": torch.tensor([[1.0, 0.0]]), "0.bias": torch.zeros(1)})
    grid = session.decision_grid()
    centres = (np.arange(GRID_SIZE) + 0.5) / GRID_SIZE
    np.testing.assert_allclose(grid, np.broadcast_to(centres, grid.shape), atol=1e-5)


def test_plain_export_loads_into_torch_nn_sequential(trained, tmp_path):
    path = tmp_path / "model.safetensors"
    trained.save_model(path)
    reference = torch_seed_network()
    reference.load_state_dict(load_file(path))
    points = torch.rand(200, 2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(points)[:, 0].numpy()
    np.testing.assert_allclose(trained.predict_points(points), expected, atol=1e-5)


def test_export_with_features_takes_raw_points(tmp_path):
    exp = Experiment(
        NetworkSpec.parse("linear:8,tanh,linear:1,sigmoid"),
        DataSpec(dataset="xor", points=400, features=("x1", "x2", "x1*x2", "sin(x1)")),
        TrainSpec(optimizer="adam", learning_rate=0.03),
    )
    session = Session(exp)
    session.step(5)
    path = tmp_path / "xor.safetensors"
    session.save_model(path)
    model = minidl.load(path)
    assert isinstance(model[0], nn.Features) and model[0].features == list(exp.data.features)
    points = torch.rand(100, 2) * 12 - 6
    out = minidl.train.predict(model, points)[:, 0].numpy()
    np.testing.assert_allclose(out, session.predict_points(points), atol=1e-5)


def test_export_then_import_gives_the_same_model(trained, tmp_path):
    path = tmp_path / "round.safetensors"
    trained.save_model(path)
    imported = read_model(path)
    assert imported.network == trained.experiment.network
    assert imported.features == ("x1", "x2") and imported.loss == "mse"
    again = Session(experiment_with_model(Experiment(train=TrainSpec(seed=5)), imported))
    again.load_raw_state(imported.state)
    points = np.random.default_rng(0).random((100, 2))
    np.testing.assert_allclose(
        again.predict_points(points), trained.predict_points(points), atol=1e-5
    )


def test_cross_entropy_model_imports_with_its_loss(tmp_path):
    exp = Experiment(
        network=NetworkSpec.parse("linear:4,relu,linear:2"), train=TrainSpec(loss="cross_entropy")
    )
    session = Session(exp)
    session.step(1)
    assert session.decision_grid().shape == (GRID_SIZE, GRID_SIZE)
    session.save_model(tmp_path / "ce.safetensors")
    assert read_model(tmp_path / "ce.safetensors", "mse").loss == "cross_entropy"


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        (nn.Sequential(nn.Linear(2, 4), nn.Softmax()), "Softmax"),
        (nn.Sequential(nn.Linear(2, 11)), "11 outputs"),
        (nn.Sequential(nn.Linear(3, 1)), "expects 3 inputs"),
        (nn.Sequential(nn.ReLU(), nn.Linear(2, 1)), "Start the network with a Linear"),
    ],
)
def test_models_the_builder_cannot_show_are_refused(model, fragment, tmp_path):
    path = tmp_path / "odd.safetensors"
    minidl.save(model, path)
    with pytest.raises(minidl.ModelFileError) as info:
        read_model(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_not_a_model_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("hello")
    with pytest.raises(minidl.ModelFileError, match="notes.safetensors"):
        read_model(path)


def test_training_settings_apply_between_epochs():
    session = Session(Experiment())
    session.apply_training(TrainSpec(learning_rate=0.03, weight_decay=0.001, batch_size=25))
    group = session.optimizer.param_groups[0]
    assert group["lr"] == 0.03 and group["weight_decay"] == 0.001
    session.step()
    assert session.steps == 40
    session.apply_training(TrainSpec(learning_rate=0.03, optimizer="adam", batch_size=25))
    assert isinstance(session.optimizer, minidl.optim.Adam)
    with pytest.raises(ValueError, match="new session"):
        session.apply_training(TrainSpec(loss="mae"))


def test_reset_draws_new_weights_and_clears_the_history():
    session = Session(Experiment())
    first = session.model.state_dict()["0.weight"].clone()
    session.step()
    session.reset(seed=9)
    assert session.epoch == 0 and session.steps == 0
    assert not torch.equal(session.model.state_dict()["0.weight"], first)


def test_divergence_stops_with_a_reason_and_the_grid_survives():
    exp = Experiment(
        network=NetworkSpec.parse("linear:25,relu,linear:1"), train=TrainSpec(learning_rate=100.0)
    )
    session = Session(exp)
    reason = None
    for _ in range(5):
        reason = session.step()
        if reason:
            break
    assert reason is not None and "diverged" in reason
    assert session.decision_grid().shape == (GRID_SIZE, GRID_SIZE)


def test_stop_when_set_ends_an_epoch_early():
    event = threading.Event()
    event.set()
    session = Session(Experiment())
    assert session.step(callbacks=[StopWhenSet(event)]) == "stopped on request"


# -- your points, stop conditions, divergence, confusion matrix, saved weights ------------------

from dataclasses import replace  # noqa: E402

from minidl.train import confusion_matrix  # noqa: E402
from playground.experiment import CUSTOM, DataPoint, dump_experiment, load_experiment  # noqa: E402
from playground.session import nearest_point  # noqa: E402


def test_reopening_a_saved_experiment_gives_the_same_loss_curve():
    exp = Experiment(
        data=DataSpec(points=300, noise=0.1, seed=5).with_point(0.1, 0.9, 1),
        train=TrainSpec(optimizer="adam", learning_rate=0.01, seed=4),
    )
    first = Session(exp)
    first.step(4)
    reopened, _ = load_experiment(dump_experiment(exp))
    second = Session(reopened)
    second.step(4)
    assert second.history.train_loss == first.history.train_loss
    assert second.history.test_loss == first.history.test_loss


def test_saved_weights_continue_exactly_where_they_were():
    session = Session(Experiment(data=DataSpec(points=200)))
    session.step(3)
    text = dump_experiment(session.experiment, session.saved_weights())
    exp, weights = load_experiment(text)
    other = Session(exp)
    other.load_weights(weights)
    assert other.epoch == 3
    for key, value in session.model.state_dict().items():
        assert torch.equal(other.model.state_dict()[key], value), key
    other.step()
    assert other.history.epoch == [4]


def test_added_points_join_their_side_and_removed_points_leave():
    base = Session(Experiment(data=DataSpec(points=100))).data_arrays()
    data = DataSpec(points=100).with_point(0.05, 0.05, 1)
    data = replace(data, added=(*data.added, DataPoint(0.9, 0.9, 0, test=True)))
    removed = int(base.train_ids[0])
    arrays = Session(Experiment(data=data.without_point(removed))).data_arrays()
    assert len(arrays.x_train) == len(base.x_train)  # one generated out, one of yours in
    assert len(arrays.x_test) == len(base.x_test) + 1
    assert removed not in arrays.train_ids and -1 in arrays.train_ids and -2 in arrays.test_ids
    np.testing.assert_allclose(arrays.x_train[arrays.train_ids == -1][0], [0.05, 0.05])
    assert arrays.y_test[arrays.test_ids == -2][0] == 0
    # the other generated points kept their side of the split
    assert set(arrays.test_ids[arrays.test_ids >= 0]) == set(base.test_ids)


def test_a_custom_dataset_of_clicked_points_trains_without_a_test_set():
    points = tuple(DataPoint(x, y, int(x > 0)) for x in (-2.0, -1.0, 1.0, 2.0) for y in (0, 1))
    session = Session(Experiment(data=DataSpec(dataset=CUSTOM, added=points)))
    assert not session.has_test_points and session.domain == (-6.0, 6.0, -6.0, 6.0)
    assert session.step(20) is None
    assert math.isnan(session.snapshot().test_loss)
    assert session.history.train_accuracy[-1] == 1.0


def test_nearest_point_finds_ids_within_reach():
    arrays = Session(Experiment(data=DataSpec(points=50).with_point(0.5, 0.5, 1))).data_arrays()
    assert nearest_point(arrays, 0.501, 0.499, max_distance=0.01) == -1
    x, point_id = arrays.x_test[3], arrays.test_ids[3]
    assert nearest_point(arrays, float(x[0]), float(x[1])) == point_id
    assert nearest_point(arrays, 5.0, 5.0, max_distance=0.1) is None


def test_stop_after_n_epochs():
    session = Session(Experiment(data=DataSpec(points=100), train=TrainSpec(max_epochs=3)))
    assert session.step(10) == "reached the epoch limit (3 epochs)"
    assert session.epoch == 3
    assert "epoch limit" in session.play_blocker()


def test_stop_at_a_target_test_loss():
    session = Session(Experiment(train=TrainSpec(target_test_loss=0.1)))
    reason = session.step(100)
    assert reason is not None and "test_loss reached" in reason
    assert session.history.test_loss[-1] <= 0.1 < session.history.test_loss[-2]
    assert "already at the target" in session.play_blocker()


def test_stop_when_the_test_loss_has_not_improved_for_k_epochs():
    # lr 3 on the seed network stalls: the test loss stops improving early
    exp = Experiment(data=DataSpec(points=200), train=TrainSpec(learning_rate=3.0, patience=4))
    session = Session(exp)
    reason = None
    for _ in range(200):  # one epoch per call, as the worker trains
        reason = session.step()
        if reason:
            break
    assert reason is not None and "has not improved for 4 epochs" in reason
    losses = session.history.test_loss
    assert min(losses[-4:]) >= min(losses[:-4])
    assert session.play_blocker() is None  # Play starts a fresh count


def test_divergence_rolls_back_to_the_last_good_epoch():
    exp = Experiment(
        network=NetworkSpec.parse("linear:25,relu,linear:1"),
        data=DataSpec(points=200),
        train=TrainSpec(learning_rate=1.0),  # blows up at epoch 5
    )
    session = Session(exp)
    reasons = [session.step() for _ in range(10)]
    reason = next(r for r in reasons if r)
    epoch, loss = session.divergence
    assert "diverged" in reason and not math.isfinite(loss)
    assert session.epoch == epoch - 1 and len(session.history.train_loss) == epoch - 1
    assert all(math.isfinite(v) for v in session.history.train_loss)
    assert all(torch.isfinite(p.data).all() for p in session.model.parameters())
    assert np.isfinite(session.decision_grid()).all()


def test_confusion_matrix_counts_and_agrees_with_the_accuracy(trained):
    # the engine's counts: (predicted, true), rows true
    m = confusion_matrix(torch.tensor([0, 1, 1, 1, 0]), torch.tensor([0, 0, 1, 1, 1]))
    assert m.tolist() == [[1, 1], [1, 2]]
    matrix = trained.confusion("test")
    assert matrix.sum() == 1000
    assert np.trace(matrix) / 1000 == pytest.approx(trained.history.test_accuracy[-1])
    with pytest.raises(ValueError):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([1]))
