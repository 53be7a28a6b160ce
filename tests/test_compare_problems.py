"""Compare on issue 13's problems: a regression, three classes, L1 and the initialisations.

Each variant of a stacked run must be the run the main window trains alone with the variant's
settings (the app's Session), whatever the task, penalty or initialisation.
"""

from __future__ import annotations

import numpy as np
import pytest

from playground.compare import CompareSession, Variant
from playground.experiment import DataSpec, Experiment, NetworkSpec, TrainSpec
from tests.test_compare import alone, assert_same_weights


def _experiment(kind: str) -> Experiment:
    if kind == "plane":
        network = NetworkSpec.parse("linear:8,tanh,linear:1")
        data = DataSpec(dataset="plane", points=300)
        train = TrainSpec(batch_size=20, loss="mse")
    elif kind == "spiral3":
        network = NetworkSpec.parse("linear:8,relu,linear:3")
        data = DataSpec(dataset="spiral", classes=3, points=300)
        train = TrainSpec(batch_size=20, loss="cross_entropy", optimizer="adam", learning_rate=0.01)
    else:  # L1 on the disk
        network = NetworkSpec.parse("linear:8,relu,linear:1,sigmoid")
        data = DataSpec(points=300)
        train = TrainSpec(batch_size=20, regularization="l1")
    experiment = Experiment(network, data, train)
    assert not experiment.problems(), experiment.problems()
    return experiment


@pytest.mark.parametrize("kind", ["plane", "spiral3", "l1"])
def test_each_variant_of_a_problem_equals_the_session_trained_alone(kind: str) -> None:
    exp = _experiment(kind)
    lr = exp.train.learning_rate
    variants = [
        Variant(lr, 0.0, 0),
        Variant(lr / 3, 0.003, 1, "pytorch"),
        Variant(lr, 0.01, 2, "zeros"),
    ]
    compare = CompareSession(exp, variants)
    compare.step(3)
    for k, variant in enumerate(variants):
        single = alone(exp, variant, 3)
        assert single.experiment.train.init == variant.init
        assert_same_weights(compare.runs.state_of(k), single.model.state_dict(), 1e-5)
        for key in ("train_loss", "test_loss", "test_accuracy"):  # R² for the regression
            np.testing.assert_allclose(
                getattr(compare.runs.histories[k], key), getattr(single.history, key), atol=1e-5
            )


def test_a_variant_keeps_the_experiments_penalty_kind_and_gives_l2_where_there_is_none():
    l1 = TrainSpec(regularization="l1", weight_decay=0.1)
    assert Variant.of(l1).train_spec(l1).regularization == "l1"
    none = TrainSpec(regularization="none")
    adopted = Variant.of(none, weight_decay=0.01).train_spec(none)
    assert (adopted.regularization, adopted.weight_decay) == ("l2", 0.01)
    assert Variant.of(TrainSpec(init="zeros")).init == "zeros"  # the experiment's own init
