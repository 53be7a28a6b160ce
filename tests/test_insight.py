"""The network view's numbers (playground.insight and Session's inside methods), without a window.

Oracles: the exported model (raw points in) run layer by layer by hand, torch.nn with the same
weights under torch.autograd, numpy's norms and SVD, and facts (a switched-off unit is zero).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import minidl
from minidl import nn
from minidl.train import predict
from playground.experiment import DataSpec, Experiment, ExperimentError, NetworkSpec, TrainSpec
from playground.insight import columns
from playground.session import GRID_SIZE, Session, build_network

SMALL = DataSpec(points=200)


def small(network: str = "linear:6,tanh,linear:5,relu,linear:1,sigmoid", **train) -> Session:
    """A quick session on 200 disk points (100 for training)."""
    return Session(
        Experiment(network=NetworkSpec.parse(network), data=SMALL, train=TrainSpec(**train))
    )


def by_hand(session: Session, points: np.ndarray) -> list[np.ndarray]:
    """Each stack layer's output of the exported model (raw points in), one module at a time."""
    model = session.export_model()
    model.eval()
    modules = list(model)
    x = torch.as_tensor(np.asarray(points, dtype=np.float32))
    if isinstance(modules[0], nn.Features):
        x = modules.pop(0)(x).data
    outputs = []
    with minidl.no_grad():
        for module in modules:
            x = module(x).data
            outputs.append(x.numpy().copy())
    return outputs


def maps_of(values: np.ndarray, size: int) -> np.ndarray:
    """(n, units) values on grid_points(size) as (units, size, size) maps, [unit, i2, i1]."""
    return values.T.reshape(-1, size, size)


# -- columns --------------------------------------------------------------------------------------


def test_seed_network_has_an_input_column_and_one_per_linear():
    found = columns(NetworkSpec.seed(), ["x1", "x2"], 1)
    assert [c.index for c in found] == [0, 1, 2, 3, 4]
    assert [c.layers for c in found] == [(), (0, 1), (2, 3), (4, 5), (6, 7)]
    assert [c.units for c in found] == [2, 25, 25, 25, 1]
    assert found[0].names == ("x1", "x2") and found[0].weight_key is None
    assert found[2].title == "Linear 25 + ReLU" and found[2].activation == "relu"
    assert found[2].weight_key == "2.weight" and found[2].bias_key == "2.bias"
    assert found[2].formula == "h₂,ⱼ = ReLU(Σᵢ w·h₁,ᵢ + b)"
    assert found[4].formula == "h₄,ⱼ = Sigmoid(Σᵢ w·h₃,ᵢ + b)"
    assert found[1].names[:2] == ("h1,1", "h1,2") and len(found[1].names) == 25
    # the maths comes from the engine, one source
    assert found[2].forward == (minidl.formula(nn.Linear)[0], minidl.formula(nn.ReLU)[0])
    assert found[2].backward == (minidl.formula(nn.Linear)[1], minidl.formula(nn.ReLU)[1])


def test_a_leading_activation_and_dropout_get_their_place():
    network = NetworkSpec.parse("tanh,linear:4,relu,dropout:0.5,linear:2")
    found = columns(network, ["x1", "x2", "x1^2"], 2)
    assert [c.layers for c in found] == [(), (0,), (1, 2, 3), (4,)]
    assert found[1].title == "Tanh" and found[1].units == 3 and found[1].weight_key is None
    assert found[1].formula == "h₁,ⱼ = Tanh(xⱼ)"
    assert found[2].title == "Linear 4 + ReLU + Dropout 0.5" and found[2].activation == "relu"
    assert found[2].formula == "h₂,ⱼ = ReLU(Σᵢ w·h₁,ᵢ + b)"
    assert found[3].activation is None and found[3].units == 2 and found[3].weight_key == "4.weight"


# -- maps ----------------------------------------------------------------------------------------


def test_grid_points_are_pixel_centres_in_the_decision_grids_order():
    session = small()
    x0, x1, y0, y1 = session.domain
    points = session.grid_points(4)
    assert points.shape == (16, 2) and points.dtype == np.float32
    for k, (p1, p2) in enumerate(points):
        i2, i1 = divmod(k, 4)
        assert p1 == pytest.approx(x0 + (i1 + 0.5) * (x1 - x0) / 4)
        assert p2 == pytest.approx(y0 + (i2 + 0.5) * (y1 - y0) / 4)
    grid = session.predict_points(session.grid_points(GRID_SIZE)).reshape(GRID_SIZE, GRID_SIZE)
    assert np.array_equal(grid, session.decision_grid())


@pytest.mark.parametrize("epochs", [0, 5])
@pytest.mark.parametrize("features", [("x1", "x2"), ("x1", "x2", "x1^2", "sin(x2)")])
def test_neuron_maps_equal_the_exported_model_layer_by_layer(epochs, features):
    session = Session(
        Experiment(
            network=NetworkSpec.parse("linear:6,tanh,linear:5,leaky_relu,dropout:0.3,linear:1"),
            data=DataSpec(points=200, features=features),
        )
    )
    session.step(epochs)
    size = 16
    expected = by_hand(session, session.grid_points(size))
    maps = session.neuron_maps(size)
    assert len(maps) == len(expected) == 6
    for got, want in zip(maps, expected, strict=True):
        assert got.dtype == np.float32 and got.shape == (want.shape[1], size, size)
        np.testing.assert_allclose(got, maps_of(want, size), rtol=1e-5, atol=1e-5)


def test_column_maps_and_activations_are_the_columns_last_layers():
    session = small()
    session.step(3)
    size = 8
    points = session.grid_points(size)
    layers = by_hand(session, points)
    maps = session.column_maps(size)
    assert [m.shape[0] for m in maps] == [c.units for c in session.columns]
    # column 0: the inputs standardised with the training points' mean and std
    data = session.data_arrays()
    z = (points - data.x_train.mean(0)) / data.x_train.std(0)
    np.testing.assert_allclose(maps[0], maps_of(z, size), atol=1e-5)
    for column, got in zip(session.columns[1:], maps[1:], strict=True):
        np.testing.assert_allclose(got, maps_of(layers[column.layers[-1]], size), atol=1e-5)
    at = session.activations_at((0.3, 0.7))
    one = by_hand(session, np.array([[0.3, 0.7]]))
    for column, got in zip(session.columns[1:], at[1:], strict=True):
        np.testing.assert_allclose(got, one[column.layers[-1]][0], atol=1e-5)


def test_the_output_columns_map_is_the_decision_grid():
    session = small()
    session.step(2)
    last = session.column_maps(GRID_SIZE)[-1]
    np.testing.assert_allclose(last[0], session.decision_grid(), atol=1e-6)
    scores = small("linear:6,relu,linear:2", loss="cross_entropy")
    scores.step(2)
    logits = torch.from_numpy(scores.column_maps(GRID_SIZE)[-1])
    p = torch.softmax(logits, dim=0)[1].numpy()
    np.testing.assert_allclose(p, scores.decision_grid(), atol=1e-6)


def test_maps_of_given_weights_leave_the_sessions_own_alone():
    session = small()
    before = session.snapshot(weights=True).weights
    session.step(3)
    now = session.neuron_maps(8)
    old = session.neuron_maps(8, before)
    fresh = small()  # the same seed: the weights of `before`
    for a, b in zip(old, fresh.neuron_maps(8), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(now, session.neuron_maps(8), strict=True):
        np.testing.assert_array_equal(a, b)


def test_neuron_maps_of_the_seed_network_take_a_few_ms():
    import time

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the app runs
    try:
        session = Session(Experiment())
        session.neuron_maps(16)
        start = time.perf_counter()
        for _ in range(20):
            session.neuron_maps(16)
        assert (time.perf_counter() - start) / 20 < 0.02  # ~0.5 ms quiet; generous for CI
    finally:
        torch.set_num_threads(threads)


# -- editing weights --------------------------------------------------------------------------


def grid_of(model: nn.Module, session: Session) -> np.ndarray:
    inputs = session._inputs(torch.from_numpy(session.grid_points(GRID_SIZE)))
    return predict(model, inputs)[:, 0].clamp(0, 1).numpy().reshape(GRID_SIZE, GRID_SIZE)


@pytest.mark.parametrize(
    ("key", "index"), [("2.weight", (3, 4)), ("0.weight", (1, 0)), ("4.bias", (0,))]
)
def test_an_edited_weight_changes_the_grid_as_on_a_model_copy_and_undo_restores_it(key, index):
    session = small()
    session.step(2)
    original = session.decision_grid()
    twin = build_network(session.experiment.network, 2, 1)
    twin.load_state_dict(copy.deepcopy(session.model.state_dict()))
    old = session.set_parameter(key, index, 0.75)
    assert old == pytest.approx(float(dict(twin.named_parameters())[key].data[index]))
    dict(twin.named_parameters())[key].data[index] = 0.75
    edited = session.decision_grid()
    assert not np.array_equal(edited, original)
    np.testing.assert_array_equal(edited, grid_of(twin, session))
    assert session.set_parameter(key, index, old) == 0.75
    np.testing.assert_array_equal(session.decision_grid(), original)


def test_current_loss_follows_an_edit():
    session = small()
    session.step(2)
    train, test = session.current_loss()
    data = session.data_arrays()
    p = session.predict_points(data.x_train)
    assert train == pytest.approx(float(np.mean((p - data.y_train) ** 2)), rel=1e-5)
    session.set_parameter("4.bias", (0,), 5.0)  # the output saturates near 1
    p = session.predict_points(data.x_test)
    assert session.current_loss()[1] == pytest.approx(float(np.mean((p - data.y_test) ** 2)))
    assert session.current_loss()[1] != test


@pytest.mark.parametrize(
    ("key", "index", "value", "words"),
    [
        ("9.weight", (0, 0), 1.0, "no parameter '9.weight'"),
        ("0.weight", (6, 0), 1.0, "no entry (6, 0)"),
        ("0.weight", (0,), 1.0, "no entry (0,)"),
        ("0.bias", (0,), math.nan, "finite"),
        ("0.bias", (0,), "x", "not a number"),
    ],
)
def test_bad_edits_are_refused_with_a_message(key, index, value, words):
    session = small()
    with pytest.raises(ExperimentError, match=words.replace("(", r"\(").replace(")", r"\)")):
        session.set_parameter(key, index, value)


# -- a point's gradients -----------------------------------------------------------------------


def torch_twin(session: Session) -> torch.nn.Sequential:
    """The session's network in torch.nn with its (standardised-input) weights, float64."""
    kinds = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
    layers: list[torch.nn.Module] = []
    for shape in session.experiment.network.shapes(2, session.experiment.out_width):
        if shape.spec.kind == "linear":
            layers.append(torch.nn.Linear(shape.in_width, shape.out_width))
        else:
            layers.append(kinds[shape.spec.kind]())
    twin = torch.nn.Sequential(*layers).double()
    state = {k: v.double() for k, v in session.model.state_dict().items()}
    twin.load_state_dict(state)
    return twin


@pytest.mark.parametrize(
    ("network", "loss"),
    [
        ("linear:6,tanh,linear:5,relu,linear:1,sigmoid", "mse"),
        ("linear:6,relu,linear:1,sigmoid", "bce"),
        ("linear:6,tanh,linear:2", "cross_entropy"),
    ],
)
def test_point_gradients_match_torch_autograd(network, loss):
    session = small(network, loss=loss)
    session.step(2)
    own = {k: p.grad.clone() for k, p in session.model.named_parameters()}
    data = session.data_arrays()
    point, label = (0.2, 0.6), 1
    z = (np.array([point]) - data.x_train.mean(0)) / data.x_train.std(0)
    twin = torch_twin(session)
    out = twin(torch.tensor(z, dtype=torch.float64))
    if loss == "cross_entropy":
        value = torch.nn.functional.cross_entropy(out, torch.tensor([label]))
    elif loss == "bce":
        target = torch.tensor([[float(label)]], dtype=out.dtype)
        value = torch.nn.functional.binary_cross_entropy(out, target)
    else:
        value = torch.nn.functional.mse_loss(out, torch.tensor([[float(label)]], dtype=out.dtype))
    value.backward()
    got = session.point_gradients(point, label)
    want = dict(twin.named_parameters())
    assert set(got) == set(want)
    for key, grad in got.items():
        np.testing.assert_allclose(grad, want[key].grad.numpy(), rtol=1e-5, atol=1e-6)
    for key, p in session.model.named_parameters():  # the model's own gradient stays
        assert torch.equal(p.grad, own[key])


# -- norms -----------------------------------------------------------------------------------


def test_history_has_the_gradient_and_weight_norms_of_every_epoch():
    session = small()
    expected_grads, expected_weights = [], []
    for _ in range(4):
        session.step(1)
        linears = [m for m in session.model if isinstance(m, nn.Linear)]
        expected_grads.append([np.linalg.norm(m.weight.grad.numpy()) for m in linears])
        expected_weights.append([np.linalg.norm(m.weight.data.numpy()) for m in linears])
    rows = session.history_rows()
    assert rows.grad_norms.shape == rows.weight_norms.shape == (4, 3)
    np.testing.assert_allclose(rows.grad_norms, expected_grads, rtol=1e-5)
    np.testing.assert_allclose(rows.weight_norms, expected_weights, rtol=1e-5)
    assert session.norm_labels == ["Linear 1 (2→6)", "Linear 2 (6→5)", "Linear 3 (5→1)"]
    part = session.history_rows(3)
    np.testing.assert_array_equal(part.grad_norms, rows.grad_norms[3:])
    session.reset()
    assert session.history_rows().grad_norms.shape == (0, 3)


def test_snapshot_grads_are_the_last_steps():
    session = small()
    assert session.snapshot(weights=True).grads is None
    session.step(1)
    snap = session.snapshot(weights=True, grid=False)
    assert set(snap.grads) == set(snap.weights)
    for key, p in session.model.named_parameters():
        np.testing.assert_array_equal(snap.grads[key], p.grad.numpy())
    assert session.snapshot(weights=False).grads is None


def test_divergence_names_the_layer_whose_gradient_blew_up():
    session = small("linear:25,relu,linear:1", learning_rate=1.0)  # blows up at epoch ~5
    reasons = [session.step() for _ in range(10)]
    reason = next(r for r in reasons if r)
    assert session.divergence is not None
    assert session.divergence_layer in session.norm_labels
    assert f"the gradient of {session.divergence_layer} blew up" in reason
    rows = session.history_rows()
    assert len(rows.grad_norms) == len(rows) == session.epoch  # the bad epoch's row went too
    assert np.isfinite(rows.grad_norms).all()


# -- switched-off units --------------------------------------------------------------------------


def test_a_switched_off_unit_is_zero_everywhere_and_the_rest_follow():
    session = small()
    session.step(2)
    session.set_unit_enabled(1, 2, False)
    assert session.disabled_units == {(1, 2)}
    maps = session.column_maps(8)
    assert not maps[1][2].any() and maps[1][1].any()
    # a zero unit is what a copy with that unit's outgoing weights zeroed computes
    twin = build_network(session.experiment.network, 2, 1)
    twin.load_state_dict(copy.deepcopy(session.model.state_dict()))
    dict(twin.named_parameters())["2.weight"].data[:, 2] = 0.0
    np.testing.assert_allclose(session.decision_grid(), grid_of(twin, session), atol=1e-6)
    state_keys = list(session.model.state_dict())
    before = {k: v.clone() for k, v in session.model.state_dict().items()}
    session.step(2)
    after = session.model.state_dict()
    assert list(after) == state_keys
    # nothing flows through the off unit: its in- and outgoing weights keep their values
    assert torch.equal(after["0.weight"][2], before["0.weight"][2])
    assert torch.equal(after["0.bias"][2], before["0.bias"][2])
    assert torch.equal(after["2.weight"][:, 2], before["2.weight"][:, 2])
    assert not torch.equal(after["2.weight"][:, 1], before["2.weight"][:, 1])
    assert not session.activations_at((0.5, 0.5))[1][2]
    session.set_unit_enabled(1, 2, True)
    assert session.disabled_units == frozenset() and session.column_maps(8)[1][2].any()


def test_with_every_unit_on_training_is_the_plain_networks():
    a, b = small(), small()
    b.set_unit_enabled(2, 0, False)
    b.set_unit_enabled(2, 0, True)
    assert b._forward_model(b.model) is b.model  # the engine's fast step takes it
    a.step(3)
    b.step(3)
    assert a.history.train_loss == b.history.train_loss


def test_bad_units_are_refused():
    session = small()
    with pytest.raises(ExperimentError, match="no column 9"):
        session.set_unit_enabled(9, 0, False)
    with pytest.raises(ExperimentError, match="6 units: there is no unit 6"):
        session.set_unit_enabled(1, 6, False)


# -- hidden space and layer matrices -----------------------------------------------------------


def test_hidden_space_of_two_units_is_their_activations():
    session = small()
    session.step(3)
    data = session.data_arrays()
    points = np.concatenate([data.x_train, data.x_test])
    layer = session.columns[2].layers[-1]
    values = by_hand(session, points)[layer]
    space = session.hidden_space(2, (3, 1), lines=5)
    np.testing.assert_allclose(space.points, values[:, [3, 1]], atol=1e-5)
    assert space.axis_labels == ("h2,4", "h2,2")
    np.testing.assert_array_equal(space.labels, np.concatenate([data.y_train, data.y_test]))
    assert space.is_test.sum() == len(data.x_test) and not space.is_test[: len(data.x_train)].any()
    # the grid: lines of constant x1, then of constant x2, over the domain
    x0, x1, y0, y1 = session.domain
    assert space.grid.shape == (2, 5, 41, 2)
    c = np.linspace(x0, x1, 5)[2]
    line = np.stack([np.full(41, c), np.linspace(y0, y1, 41)], axis=1)
    np.testing.assert_allclose(
        space.grid[0, 2], by_hand(session, line)[layer][:, [3, 1]], atol=1e-5
    )
    c = np.linspace(y0, y1, 5)[4]
    line = np.stack([np.linspace(x0, x1, 41), np.full(41, c)], axis=1)
    np.testing.assert_allclose(
        space.grid[1, 4], by_hand(session, line)[layer][:, [3, 1]], atol=1e-5
    )


def test_hidden_space_principal_components_are_numpys_svd():
    session = small()
    session.step(3)
    data = session.data_arrays()
    layer = session.columns[1].layers[-1]
    train = by_hand(session, data.x_train)[layer].astype(np.float64)
    test = by_hand(session, data.x_test)[layer].astype(np.float64)
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean)
    expected = np.concatenate([train, test]) - mean
    space = session.hidden_space(1, None)
    assert space.axis_labels == ("PC 1", "PC 2")
    for k in range(2):
        want = expected @ vt[k]
        sign = np.sign(want @ space.points[:, k])
        np.testing.assert_allclose(space.points[:, k], sign * want, atol=1e-4)


def test_hidden_space_of_a_one_unit_column_has_a_flat_second_axis():
    session = small()
    space = session.hidden_space(3, None)
    assert not space.points[:, 1].any()
    with pytest.raises(ExperimentError, match="no units"):
        session.hidden_space(3, (0, 1))


def test_layer_matrices_are_the_weights_and_the_last_gradient():
    session = small()
    assert session.layer_matrices(0) == (None, None, None)
    w, b, dw = session.layer_matrices(2)
    assert dw is None  # no step yet
    np.testing.assert_array_equal(w, session.model.state_dict()["2.weight"].numpy())
    session.step(1)
    snap = session.snapshot(weights=True, grid=False)
    w, b, dw = session.layer_matrices(2, snap.weights, snap.grads)
    assert w.shape == dw.shape == (5, 6) and b.shape == (5,)
    np.testing.assert_array_equal(dw, dict(session.model.named_parameters())["2.weight"].grad)


def test_switched_off_units_travel_with_the_session_to_the_worker():
    import pickle

    session = small()
    session.set_unit_enabled(2, 4, False)
    grid = session.decision_grid(session.snapshot(weights=True).weights)  # fills the caches
    copied = pickle.loads(pickle.dumps(session))
    assert copied.disabled_units == {(2, 4)}
    np.testing.assert_array_equal(copied.decision_grid(), grid)
    copied.step(1)
    assert not copied.column_maps(4)[2][4].any()
