"""Regression and many-class problems in the engine: the losses registry, the regression and
classification metrics against their formulas, and training end to end (issue 13)."""

from __future__ import annotations

import math

import pytest
import torch

from minidl import data, nn, optim
from minidl.nn.losses import LOSSES
from minidl.train import (
    METRICS,
    accuracy,
    confusion_matrix,
    fit,
    predict,
    r2_score,
    rmse,
    seed_everything,
)

# -- the losses registry -----------------------------------------------------------------------


def test_the_losses_registry_names_every_loss_module():
    assert {
        "mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss, "bce": nn.BCELoss,
        "cross_entropy": nn.CrossEntropyLoss,
    } == LOSSES
    assert set(LOSSES.values()) == {getattr(nn, n) for n in nn.losses.__all__ if n.endswith("Loss")}


def test_the_apps_loss_names_are_the_engines():
    from playground.experiment import LOSSES as APP_LOSSES

    assert set(APP_LOSSES) <= set(LOSSES)


def test_huber_loss_settings_are_checked_and_shown():
    assert repr(nn.HuberLoss()) == "HuberLoss()"
    assert repr(nn.HuberLoss("sum", delta=2.0)) == "HuberLoss(reduction='sum', delta=2.0)"
    for bad in (0, -1.0, True, "1"):
        with pytest.raises(ValueError, match="HuberLoss: delta must be a positive number"):
            nn.HuberLoss(delta=bad)
    with pytest.raises(ValueError, match=r"HuberLoss: the output has shape \(3, 1\).*\(3,\)"):
        nn.HuberLoss()(torch.zeros(3, 1), torch.zeros(3))


def test_huber_is_half_the_squared_error_near_the_target_and_linear_beyond():
    # torch's rule with delta 2: |d| = 1 -> 0.5, |d| = 3 -> 2 * (3 - 1) = 4, |d| = 2 -> 2 both ways
    d = torch.tensor([1.0, -3.0, 2.0, 0.0], dtype=torch.float64)
    loss = nn.HuberLoss(reduction="none", delta=2.0)(d, torch.zeros(4, dtype=torch.float64))
    assert loss.data.tolist() == [0.5, 4.0, 2.0, 0.0]


# -- regression metrics, against their formulas --------------------------------------------------


def _pairs(seed: int, n: int = 50) -> tuple[list[float], list[float]]:
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(n, generator=g, dtype=torch.float64)
    output = target + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    return output.tolist(), target.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_r2_and_rmse_follow_their_formulas(seed):
    out, tgt = _pairs(seed)
    mean = sum(tgt) / len(tgt)
    residual = sum((t - o) ** 2 for o, t in zip(out, tgt, strict=True))
    total = sum((t - mean) ** 2 for t in tgt)
    output, target = torch.tensor(out).unsqueeze(1), torch.tensor(tgt)
    assert r2_score(output, target) == pytest.approx(1 - residual / total, rel=1e-6)
    assert rmse(output, target) == pytest.approx(math.sqrt(residual / len(tgt)), rel=1e-6)
    # (N, 1) against (N, 1) and (N,) against (N,) are the same data
    assert r2_score(output, target.unsqueeze(1)) == r2_score(output[:, 0], target)


def test_r2_facts_perfect_mean_and_constant_targets():
    target = torch.tensor([1.0, 2.0, 4.0])
    assert r2_score(target, target) == 1.0 and rmse(target, target) == 0.0
    assert r2_score(torch.full((3,), target.mean().item()), target) == pytest.approx(0.0, abs=1e-12)
    assert r2_score(-target, target) < 0
    constant = torch.full((3,), 2.0)
    assert r2_score(constant, constant) == 1.0 and r2_score(target, constant) == 0.0
    assert math.isnan(r2_score(torch.zeros(0), torch.zeros(0)))


def test_r2_of_several_outputs_is_the_mean_of_each_columns():
    g = torch.Generator().manual_seed(0)
    target, output = torch.randn(40, 3, generator=g), torch.randn(40, 3, generator=g)
    columns = [r2_score(output[:, k], target[:, k]) for k in range(3)]
    assert r2_score(output, target) == pytest.approx(sum(columns) / 3, rel=1e-12)


def test_regression_metrics_name_both_shapes_when_they_differ():
    with pytest.raises(ValueError, match=r"r2_score: the output has shape \(4, 2\).*\(4, 1\)"):
        r2_score(torch.zeros(4, 2), torch.zeros(4))


# -- K-class accuracy and the confusion matrix -------------------------------------------------


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    g = torch.Generator().manual_seed(1)
    k, n = 4, 300
    scores = torch.randn(n, k, generator=g)
    target = torch.randint(0, k, (n,), generator=g)
    matrix = confusion_matrix(scores, target, classes=k)
    predicted = scores.argmax(1).tolist()
    expected = [[0] * k for _ in range(k)]
    for t, p in zip(target.tolist(), predicted, strict=True):
        expected[t][p] += 1
    assert matrix.dtype == torch.int64 and matrix.tolist() == expected
    assert int(matrix.sum()) == n
    assert accuracy(scores, target) == pytest.approx(matrix.trace().item() / n, rel=1e-12)


def test_confusion_matrix_of_class_indices_and_of_one_probability():
    assert confusion_matrix(torch.tensor([0, 2, 2]), torch.tensor([0, 1, 2])).tolist() == [
        [1, 0, 0], [0, 0, 1], [0, 0, 1],
    ]
    probability = torch.tensor([[0.9], [0.2], [0.6]])  # class 1 above 0.5, as accuracy reads it
    assert confusion_matrix(probability, torch.tensor([1, 1, 0])).tolist() == [[0, 1], [1, 1]]
    assert confusion_matrix(torch.tensor([0]), torch.tensor([0]), classes=3).shape == (3, 3)
    with pytest.raises(ValueError, match=r"classes must be in \[0, 2\)"):
        confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), classes=2)


def test_metrics_registry():
    assert {"accuracy": accuracy, "r2": r2_score, "rmse": rmse} == METRICS


# -- end to end: regression and many classes train ------------------------------------------------


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_a_regression_on_plane_reaches_r2_095(loss):
    x, y = data.plane(400, seed=1)
    x_train, y_train, x_test, y_test = data.train_test_split(x, y.unsqueeze(1), 0.5, seed=2)
    seed_everything(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    history = fit(
        model, LOSSES[loss](), optim.SGD(model.parameters(), lr=0.03), (x_train, y_train),
        epochs=100, batch_size=10, test=(x_test, y_test),
        generator=torch.Generator().manual_seed(0), accuracy_fn=r2_score,
    )
    assert history.test_accuracy[-1] == r2_score(predict(model, x_test), y_test)  # R² per epoch
    assert r2_score(predict(model, x_test), y_test) >= 0.95


def test_a_three_class_spiral_trains_to_090_test_accuracy_with_cross_entropy():
    x, y = data.spiral(600, classes=3, seed=1)
    x_train, y_train, x_test, y_test = data.train_test_split(x, y, 0.5, seed=2)
    generator = seed_everything(0)
    model = nn.Sequential(
        nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 3)
    )
    fit(
        model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01),
        (x_train, y_train), epochs=300, batch_size=30, generator=generator, metrics=False,
    )
    scores = predict(model, x_test)
    assert accuracy(scores, y_test) >= 0.9
    matrix = confusion_matrix(scores, y_test, classes=3)
    assert (matrix.diagonal() >= 0.8 * matrix.sum(1)).all()  # every class, not only most


# -- the new layers and losses in a stack of models ----------------------------------------------


def test_a_stack_with_the_newer_activations_and_huber_trains_as_each_model_alone():
    def network(seed: int) -> nn.Sequential:
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Linear(2, 6), nn.GELU(), nn.Linear(6, 6), nn.ELU(0.5), nn.Linear(6, 6), nn.SiLU(),
            nn.Linear(6, 6), nn.Softplus(beta=2.0, threshold=1.0), nn.Linear(6, 6), nn.Sine(),
            nn.Linear(6, 1),
        ).double()

    x, y = data.plane(60, seed=4)
    x, y = x.double(), y.double().unsqueeze(1)
    lrs, l1s = [0.01, 0.05], [0.0, 0.01]
    alone = []
    for k in range(2):
        model = network(k)
        fit(model, nn.HuberLoss(delta=0.1), optim.SGD(model.parameters(), lr=lrs[k], l1=l1s[k]),
            (x, y), epochs=10, batch_size=20, generator=torch.Generator().manual_seed(k),
            metrics=False)
        alone.append(model)
    stacked = nn.stack([network(k) for k in range(2)])
    fit(stacked, nn.HuberLoss(delta=0.1), optim.SGD(stacked.parameters(), lr=lrs, l1=l1s),
        (x, y), epochs=10, batch_size=20,
        generator=[torch.Generator().manual_seed(k) for k in range(2)], metrics=False)
    for back, model in zip(stacked.unstack(), alone, strict=True):
        for key, value in model.state_dict().items():
            torch.testing.assert_close(back.state_dict()[key], value, rtol=1e-10, atol=1e-10)


def test_the_activations_benchmark_runs_quick(capsys):
    from benchmarks import activations

    assert activations.main(["--quick"]) == 0
    out = capsys.readouterr().out
    for name in ("ReLU", "ELU", "GELU", "SiLU", "Softplus", "Sine"):
        assert f"| {name}" in out
