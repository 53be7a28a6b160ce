"""Compare and Sweep without a window: each variant of a stacked run is the run it would be alone.

The oracle is the app's own Session trained alone with the variant's settings (the main window's
training), or minidl's ``fit`` of one model; statistics against ``statistics``/numpy.
"""

from __future__ import annotations

import csv
import io
import math
import pickle
import statistics
from dataclasses import replace

import numpy as np
import pytest
import torch

from minidl import nn, optim
from minidl.train import fit
from playground.compare import (
    MAX_VARIANTS,
    CompareError,
    CompareSession,
    SweepPlan,
    SweepSession,
    Variant,
    cell_stats,
    parse_values,
    sweep_csv,
    variant_model,
    variants_varying,
)
from playground.experiment import DataSpec, Experiment, NetworkSpec, TrainSpec
from playground.session import Session


def small(**train) -> Experiment:
    """A quick experiment: the disk, 400 points, a 2-8-8-1 network."""
    network = NetworkSpec.parse("linear:8,relu,linear:8,tanh,linear:1,sigmoid")
    return Experiment(network, DataSpec(points=400), TrainSpec(batch_size=20, **train))


def alone(experiment: Experiment, variant: Variant, epochs: int) -> Session:
    """The variant's run as the main window trains it: a Session of its settings."""
    session = Session(experiment.replace(train=variant.train_spec(experiment.train)))
    session.step(epochs)
    return session


def assert_same_weights(a: dict, b: dict, tol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=tol, msg=key)


@pytest.mark.parametrize("optimizer", ["sgd", "sgd_momentum", "adam"])
def test_each_variant_equals_the_session_trained_alone(optimizer: str) -> None:
    exp = small(optimizer=optimizer, learning_rate=0.01 if optimizer == "adam" else 0.1)
    variants = [
        Variant(0.03, 0.0, 0),
        Variant(0.1, 0.001, 1),
        Variant(0.3, 0.0, 2),
        Variant(0.1, 0.01, 0),
    ]
    if optimizer == "adam":
        variants = [replace(v, learning_rate=v.learning_rate / 10) for v in variants]
    compare = CompareSession(exp, variants)
    compare.step(2)
    compare.step(4)  # in chunks, as the worker trains
    assert compare.epoch == 6
    for k, variant in enumerate(variants):
        single = alone(exp, variant, 6)
        assert_same_weights(compare.runs.state_of(k), single.model.state_dict(), 1e-5)
        for key in ("train_loss", "test_loss", "test_accuracy"):
            np.testing.assert_allclose(
                getattr(compare.runs.histories[k], key), getattr(single.history, key), atol=1e-5
            )


def test_the_seed_network_with_five_learning_rates_equals_each_alone() -> None:
    exp = Experiment()  # the seeds' 2-25-25-25-1 network on 2000 disk points, batch 50
    variants = variants_varying(exp.train, "learning_rate", [0.003, 0.01, 0.03, 0.1, 0.3])
    compare = CompareSession(exp, variants)
    compare.step(5)
    for k, variant in enumerate(variants):
        single = alone(exp, variant, 5)
        assert_same_weights(compare.runs.state_of(k), single.model.state_dict(), 1e-5)


def test_initialisations_draw_as_the_linear_layers_do() -> None:
    exp = small()
    torch_model, _ = variant_model(exp, Variant(0.1, 0.0, 7, "pytorch"))
    g = torch.Generator().manual_seed(7)
    sizes = [(2, 8), (8, 8), (8, 1)]
    expected = [nn.Linear(a, b, init="torch", generator=g) for a, b in sizes]
    linears = [m for m in torch_model if isinstance(m, nn.Linear)]
    for ours, theirs in zip(linears, expected, strict=True):
        assert torch.equal(ours.weight.data, theirs.weight.data)
        assert torch.equal(ours.bias.data, theirs.bias.data)
        assert ours.weight.data.abs().max() <= 1 / math.sqrt(ours.in_features)
    zeros, _ = variant_model(exp, Variant(0.1, 0.0, 7, "zeros"))
    assert all(float(p.data.abs().sum()) == 0 for p in zeros.parameters())
    xavier, _ = variant_model(exp, Variant(0.1, 0.0, 7))
    main = Session(exp.replace(train=replace(exp.train, seed=7)))
    assert_same_weights(xavier.state_dict(), main.model.state_dict(), 0)


def test_an_initialisation_variant_equals_fit_of_that_model_alone() -> None:
    exp = small()
    variants = [
        Variant(0.1, 0.0, 3, "pytorch"),
        Variant(0.1, 0.0, 3, "zeros"),
        Variant(0.1, 0.0, 3),
    ]
    compare = CompareSession(exp, variants)
    compare.step(3)
    data = compare.data
    for k, variant in enumerate(variants):
        model, generator = variant_model(exp, variant)
        fit(
            model,
            nn.MSELoss(),
            optim.SGD(model.parameters(), lr=0.1),
            (data._x_train, data._y_train),
            epochs=3,
            batch_size=20,
            generator=generator,
        )
        assert_same_weights(compare.runs.state_of(k), model.state_dict(), 1e-5)
    # zeros: every hidden unit of a layer stays alike (the symmetry a learner should see)
    w = compare.runs.state_of(1)["2.weight"]
    assert torch.allclose(w, w[:1].expand_as(w))


def diverging() -> Experiment:
    """A linear output under MSE: a learning rate of 50 blows it up within an epoch or two."""
    network = NetworkSpec.parse("linear:8,relu,linear:1")
    return Experiment(network, DataSpec(points=400), TrainSpec(batch_size=20))


def test_a_diverging_variant_is_frozen_and_the_others_train_on() -> None:
    exp = diverging()
    variants = [Variant(0.05, 0.0, 0), Variant(50.0, 0.0, 0), Variant(0.1, 0.0, 1)]
    compare = CompareSession(exp, variants)
    for _ in range(4):
        assert compare.step(1) is None
    epoch, loss = compare.runs.diverged[1]
    assert 1 <= epoch <= 4 and not math.isfinite(loss)
    assert compare.runs.diverged[0] is None and compare.runs.diverged[2] is None
    frozen = compare.runs.state_of(1)
    assert all(bool(torch.isfinite(t).all()) for t in frozen.values())
    h = compare.runs.histories[1]
    assert all(math.isnan(v) for v in h.train_loss[epoch - 1 :])
    snap = compare.snapshot()
    assert snap.diverged[1] == (epoch, loss) and np.isfinite(snap.grids).all()
    compare.step(2)  # the frozen one stays put
    assert_same_weights(compare.runs.state_of(1), frozen, 0)
    for k in (0, 2):
        single = alone(exp, variants[k], 6)
        assert_same_weights(compare.runs.state_of(k), single.model.state_dict(), 1e-5)


def test_every_variant_diverged_stops_the_run() -> None:
    compare = CompareSession(diverging(), [Variant(50.0, 0.0, 0), Variant(80.0, 0.0, 1)])
    reasons = [compare.step(1) for _ in range(6)]
    assert "every variant diverged" in reasons


def test_the_epoch_limit_stops_compare_where_the_main_run_stops() -> None:
    compare = CompareSession(small(max_epochs=3), [Variant(0.1, 0.0, 0)])
    assert compare.step(2) is None
    assert compare.step(5) == "reached the epoch limit (3 epochs)"
    assert compare.epoch == 3
    assert compare.play_blocker() is not None


def test_a_compare_session_survives_the_pipe_and_trains_on_alike() -> None:
    compare = CompareSession(small(), [Variant(0.1, 0.0, 0), Variant(0.3, 0.0, 1)])
    compare.step(2)
    copy = pickle.loads(pickle.dumps(compare))
    compare.step(2)
    copy.step(2)
    for k in range(2):
        assert_same_weights(copy.runs.state_of(k), compare.runs.state_of(k), 0)


def test_variant_weights_and_experiment_are_the_variants_own() -> None:
    exp = small()
    compare = CompareSession(exp, [Variant(0.1, 0.0, 0), Variant(0.3, 0.001, 5)])
    compare.step(2)
    saved = compare.variant_weights(1)
    assert saved.epoch == 2
    for key, value in compare.runs.state_of(1).items():
        assert torch.equal(torch.tensor(saved.tensors[key], dtype=torch.float32), value)
    train = compare.variant_experiment(1).train
    assert (train.learning_rate, train.weight_decay, train.seed) == (0.3, 0.001, 5)
    assert compare.variant_experiment(1).network == exp.network


# -- values and their messages -------------------------------------------------------------------


def test_values_are_read_with_messages_that_name_the_bad_one() -> None:
    assert parse_values("learning_rate", "0.1, 0.3 1") == [0.1, 0.3, 1.0]
    assert parse_values("init", "xavier, PyTorch, zeros") == ["xavier", "pytorch", "zeros"]
    assert parse_values("seed", "0 1 2") == [0, 1, 2]
    cases = [
        ("learning_rate", "0.1, abc", "Learning rate: 'abc' is not a number."),
        ("learning_rate", "0.1, inf", "Learning rate: 'inf' is not a finite number."),
        ("seed", "1, 2.5", "Seed: '2.5' is not a whole number."),
        ("init", "he", "Initialisation: 'he' is not an initialisation"),
        ("weight_decay", "", "L2: give at least one value."),
        ("learning_rate", "0.1 0.1", "Learning rate: 0.1 is given twice."),
        ("learning_rate", " ".join(str(i) for i in range(1, 18)), "17 values, but at most 16"),
    ]
    for parameter, text, message in cases:
        with pytest.raises(CompareError) as e:
            parse_values(parameter, text)
        assert message in str(e.value), (text, str(e.value))


def test_variants_that_cannot_train_are_refused_by_number() -> None:
    exp = small()
    with pytest.raises(CompareError, match=r"Variant 2: The learning rate must be above 0"):
        CompareSession(exp, [Variant(0.1, 0.0, 0), Variant(-1.0, 0.0, 0)])
    rate = "Variant 1: The regularisation rate must be between 0 and 10"
    with pytest.raises(CompareError, match=rate):
        CompareSession(exp, [Variant(0.1, 20.0, 0)])
    with pytest.raises(CompareError, match="at most 16"):
        CompareSession(exp, [Variant(0.1, 0.0, k) for k in range(MAX_VARIANTS + 1)])
    with pytest.raises(CompareError, match="at least one variant"):
        CompareSession(exp, [])


# -- sweeps --------------------------------------------------------------------------------------


def test_cell_stats_are_mean_and_sample_sd_of_the_finite_runs() -> None:
    values = [0.91, 0.95, math.nan, 0.93]
    mean, sd, n = cell_stats(values)
    finite = np.array([0.91, 0.95, 0.93])
    assert n == 3
    assert mean == pytest.approx(finite.mean(), abs=1e-15)
    assert sd == pytest.approx(finite.std(ddof=1), abs=1e-15)
    assert math.isnan(cell_stats([0.5])[1]) and cell_stats([0.5])[:1] == (0.5,)
    assert cell_stats([math.nan])[2] == 0


def run_sweep(exp: Experiment, plan: SweepPlan) -> SweepSession:
    sweep = SweepSession(exp, plan)
    reason = None
    while reason is None:
        reason = sweep.step(2)
    assert reason == "sweep finished" and sweep.finished
    return sweep


@pytest.mark.parametrize("metric", ["test_accuracy", "test_loss"])
def test_a_sweeps_csv_is_the_mean_and_sd_of_the_runs_alone(metric: str) -> None:
    exp = small()
    plan = SweepPlan("learning_rate", (0.1, 0.5), "weight_decay", (0.0, 0.01), (0, 1, 2), 3, metric)
    sweep = run_sweep(exp, plan)
    assert sweep.runs_done == 12 and sweep.done_epochs == 36
    rows = list(csv.DictReader(io.StringIO(sweep_csv(sweep.result()))))
    assert len(rows) == 4
    for row in rows:
        lr, decay = float(row["learning_rate"]), float(row["weight_decay"])
        runs = [
            getattr(alone(exp, Variant(lr, decay, seed), 3).history, metric)[-1]
            for seed in (0, 1, 2)
        ]
        for seed, value in zip((0, 1, 2), runs, strict=True):
            assert float(row[f"seed_{seed}"]) == pytest.approx(value, abs=1e-5)
        assert float(row[f"{metric}_mean"]) == pytest.approx(statistics.fmean(runs), abs=1e-5)
        assert float(row[f"{metric}_sd"]) == pytest.approx(statistics.stdev(runs), abs=1e-5)
        assert (row["runs"], row["diverged"]) == ("3", "0")


def test_a_sweep_over_batch_sizes_stacks_each_batch_size_apart() -> None:
    exp = small()
    plan = SweepPlan("batch_size", (10, 40), "init", ("xavier", "pytorch"), (0, 1), 2)
    groups = SweepSession(exp, plan)._groups
    assert [(batch, len(group)) for batch, group in groups] == [(10, 4), (40, 4)]
    result = run_sweep(exp, plan).result()
    value = result.values[1, 0, 1]  # batch 40, Xavier, seed 1: the main window's run
    single = alone(exp, Variant(0.1, 0.0, 1, batch_size=40), 2)
    assert value == pytest.approx(single.history.test_accuracy[-1], abs=1e-6)


def test_a_diverged_run_is_left_out_of_its_cell_and_counted() -> None:
    exp = diverging()
    plan = SweepPlan("learning_rate", (0.05, 50.0), "weight_decay", (0.0,), (0, 1), 4, "test_loss")
    result = run_sweep(exp, plan).result()
    assert result.diverged[1, 0].all() and not result.diverged[0, 0].any()
    assert result.cell(1, 0)[2] == 0 and math.isnan(result.cell(1, 0)[0])
    row = sweep_csv(result).splitlines()[2].split(",")
    assert row[:6] == ["50.0", "0.0", "nan", "nan", "0", "2"]


def test_sweep_plans_that_cannot_run_say_why() -> None:
    exp = small()
    base = SweepPlan("learning_rate", (0.1,), "weight_decay", (0.0,), (0,), 5)
    cases = [
        (replace(base, columns="learning_rate"), "two different settings"),
        (replace(base, row_values=(0.1, 0.0)), "Cell lr 0, L2 0: The learning rate must be"),
        (replace(base, seeds=()), "at least one seed"),
        (replace(base, epochs=0), "epochs per run must be 1 to 100,000"),
        (replace(base, rows="seed"), "cannot vary 'seed'"),
    ]
    for plan, message in cases:
        with pytest.raises(CompareError, match=message):
            SweepSession(exp, plan)
    points = DataSpec(dataset="custom").with_point(0.2, 0.2, 0).with_point(0.8, 0.8, 1)
    with pytest.raises(CompareError, match="the data need test points"):
        SweepSession(exp.replace(data=points), base)
