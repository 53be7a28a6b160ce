"""playground.experiment: the pure-data description of a run, its checks and its file format."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from playground.experiment import (
    DATASETS,
    DOMAINS,
    FEATURES,
    FORMAT,
    MAX_UNITS,
    VERSION,
    DataSpec,
    Experiment,
    ExperimentError,
    LayerSpec,
    NetworkSpec,
    TrainSpec,
)


def test_mirrors_of_the_engine_registries_agree():
    from minidl.data import DATASETS as ENGINE_DATASETS
    from minidl.data import DOMAINS as ENGINE_DOMAINS
    from minidl.nn.layers import FEATURES as ENGINE_FEATURES

    # the app offers the engine's datasets in the engine's order (maybe not all of them yet)
    assert tuple(name for name in ENGINE_DATASETS if name in DATASETS) == DATASETS
    assert {name: ENGINE_DOMAINS[name] for name in DATASETS} == DOMAINS
    from minidl.data import MANY_CLASSES, REGRESSION
    from playground.experiment import DEFAULT_CLASSES, REGRESSION_DATASETS

    assert REGRESSION_DATASETS == REGRESSION
    assert DEFAULT_CLASSES == MANY_CLASSES
    assert tuple(ENGINE_FEATURES) == FEATURES


def test_importing_it_does_not_load_torch():
    code = "import sys, playground.experiment; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_is_the_seed_network_on_a_1000_plus_1000_disk():
    exp = Experiment()
    assert exp.network.to_text() == "linear:25,relu,linear:25,relu,linear:25,relu,linear:1,sigmoid"
    assert exp.data.dataset == "disk"
    assert (exp.data.n_train, exp.data.n_test) == (1000, 1000)
    assert exp.problems() == []
    # 2-25-25-25-1: (2*25+25) + 2*(25*25+25) + (25*1+1)
    assert exp.network.parameter_count(2, 1) == 75 + 2 * 650 + 26


def test_parse_reads_every_layer_kind_and_round_trips():
    text = "linear:16,leakyrelu:0.2,dropout:0.1,linear:8,tanh,linear:1,sigmoid,relu"
    net = NetworkSpec.parse(text)
    assert [layer.kind for layer in net.layers] == [
        "linear",
        "leaky_relu",
        "dropout",
        "linear",
        "tanh",
        "linear",
        "sigmoid",
        "relu",
    ]
    assert net.layers[1].slope == 0.2 and net.layers[2].p == 0.1
    assert NetworkSpec.parse(net.to_text()) == net


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("linear:25,,relu", "layer 2 is empty"),
        ("linear:25,conv", "unknown layer 'conv'"),
        ("linear", "write linear:UNITS"),
        ("linear:abc", "whole number"),
        (f"linear:{MAX_UNITS + 1}", f"1 to {MAX_UNITS} units"),
        ("linear:4,dropout:1.5", "p must be in [0, 1)"),
        ("linear:4,relu:3", "takes no setting"),
    ],
)
def test_parse_explains_what_is_wrong(text, fragment):
    with pytest.raises(ExperimentError, match=None) as info:
        NetworkSpec.parse(text)
    assert fragment in str(info.value)


def test_output_width_follows_the_loss_not_the_stored_units():
    net = NetworkSpec.parse("linear:25,relu,linear:7")
    shapes = net.shapes(3, 2)
    assert [s.out_width for s in shapes] == [25, 25, 2]
    assert shapes[-1].is_output and not shapes[0].is_output
    assert shapes[0].parameters == 3 * 25 + 25
    assert Experiment(train=TrainSpec(loss="cross_entropy")).out_width == 2
    assert Experiment(train=TrainSpec(loss="bce")).out_width == 1
    spiral3 = DataSpec(dataset="spiral", classes=3)
    assert Experiment(data=spiral3, train=TrainSpec(loss="cross_entropy")).out_width == 3
    plane = DataSpec(dataset="plane", classes=3)  # a regression: classes do not count
    assert Experiment(data=plane, train=TrainSpec(loss="cross_entropy")).out_width == 1


def test_deep_wide_networks_are_allowed():
    text = ",".join(["linear:256,relu"] * 10) + ",linear:1,sigmoid"
    assert NetworkSpec.parse(text).problems("mse") == []


@pytest.mark.parametrize(
    ("text", "loss", "fragment"),
    [
        ("relu", "mse", "needs a Linear layer"),
        ("relu,linear:1,sigmoid", "mse", "Start the network with a Linear"),
        ("linear:4,relu,linear:1", "bce", "end the network with a Sigmoid"),
        ("linear:4,relu,linear:1,sigmoid", "cross_entropy", "remove the activation"),
    ],
)
def test_invalid_stacks_get_a_sentence_before_training(text, loss, fragment):
    problems = NetworkSpec.parse(text).problems(loss)
    assert any(fragment in p for p in problems), problems


def test_empty_stack_says_what_to_do():
    assert "drag a Linear layer" in NetworkSpec().problems("mse")[0]


def test_data_and_training_problems():
    assert DataSpec(features=()).problems() == ["Choose at least one input feature."]
    assert "noise" in DataSpec(noise=0.9).problems()[0].lower()
    assert "batch size" in TrainSpec(batch_size=0).problems()[0]
    assert "learning rate" in TrainSpec(learning_rate=-1.0).problems()[0]
    with pytest.raises(ExperimentError, match="Choose at least one"):
        Experiment(data=DataSpec(features=())).validate()


def test_json_round_trip_keeps_everything():
    exp = Experiment(
        NetworkSpec.parse("linear:8,leakyrelu:0.1,dropout:0.2,linear:2"),
        DataSpec(
            dataset="spiral",
            points=500,
            test_fraction=0.3,
            noise=0.2,
            seed=7,
            features=("x1", "sin(x2)"),
            standardize=False,
        ),
        TrainSpec(
            loss="cross_entropy",
            optimizer="adam",
            learning_rate=0.003,
            batch_size=10,
            weight_decay=0.001,
            seed=3,
            max_epochs=50,
        ),
    )
    text = exp.to_json()
    doc = json.loads(text)
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    assert Experiment.from_json(text) == exp


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(version=VERSION + 1), "newer playground"),
        (lambda d: d.update(format="something"), "not a playground experiment"),
        (lambda d: d["data"].update(points="many"), "number of points"),
        (lambda d: d["data"].update(colour="red"), "unknown field"),
        (lambda d: d["network"].update(layers=[{"kind": "conv"}]), "unknown layer type"),
        (lambda d: d["training"].update(batch_size=10**9), "batch size"),
    ],
)
def test_bad_experiment_files_are_refused_with_a_reason(mutate, fragment):
    doc = json.loads(Experiment().to_json())
    mutate(doc)
    with pytest.raises(ExperimentError) as info:
        Experiment.from_json(json.dumps(doc))
    assert fragment in str(info.value)


def test_truncated_file_names_line_and_column():
    with pytest.raises(ExperimentError, match="not valid JSON"):
        Experiment.from_json(Experiment().to_json()[:40])


def test_layer_with_value_and_replace():
    layer = LayerSpec.make("linear")
    assert layer.with_value(32).units == 32
    assert replace(layer, units=0).problem() is not None
    assert LayerSpec.make("dropout").with_value(0.3).p == 0.3


# -- version 2: your points, stop conditions, weights; bad files --------------------------------

from pathlib import Path  # noqa: E402

from playground.experiment import (  # noqa: E402
    CUSTOM,
    DataPoint,
    SavedWeights,
    dump_experiment,
    load_experiment,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "playground" / "resources" / "examples"


def rich_experiment() -> Experiment:
    points = (DataPoint(0.25, 0.75, 1), DataPoint(-1.5, 2.0, 0, test=True))
    return Experiment(
        NetworkSpec.parse("linear:3,tanh,linear:1,sigmoid"),
        DataSpec(dataset="xor", points=100, added=points, removed=(3, 17), seed=2),
        TrainSpec(loss="bce", max_epochs=50, target_test_loss=0.05, patience=7),
    )


def test_points_stop_conditions_and_weights_round_trip():
    exp = rich_experiment()
    weights = SavedWeights(
        12,
        {
            "0.weight": [[0.5, -0.25], [1.0, 2.0], [0.1, 0.2]],
            "0.bias": [0.0, 1.5, -3.0],
            "2.weight": [[1.0, 2.0, 3.0]],
            "2.bias": [0.25],
        },
    )
    text = dump_experiment(exp, weights)
    assert '"added": [\n' in text and '[0.25, 0.75, 1, "train"]' in text  # a point per line
    back, back_weights = load_experiment(text)
    assert back == exp and back_weights == weights
    assert Experiment.from_json(exp.to_json()) == exp
    assert load_experiment(exp.to_json())[1] is None


def test_version_1_files_still_open():
    doc = json.loads(Experiment().to_json())
    doc["version"] = 1
    for key in ("added", "removed", "domain"):
        del doc["data"][key]
    for key in ("target_test_loss", "patience"):
        del doc["training"][key]
    assert Experiment.from_json(json.dumps(doc)) == Experiment()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_examples_are_valid_experiments(path):
    assert Experiment.from_json(path.read_text()).problems() == []


def test_examples_are_the_three_lessons():
    exps = {p.stem: Experiment.from_json(p.read_text()) for p in EXAMPLES.glob("*.json")}
    seed = exps["1-seed-network-on-the-disk"]
    assert seed.network == NetworkSpec.seed() and seed.data.dataset == "disk"
    xor = exps["2-xor-needs-a-product-feature"]
    assert xor.data.dataset == "xor" and "x1*x2" in xor.data.features
    assert sum(layer.kind == "linear" for layer in xor.network.layers) == 1  # no hidden layer
    spiral = exps["3-spiral-needs-depth"]
    assert spiral.data.dataset == "spiral" and spiral.data.features == ("x1", "x2")
    assert sum(layer.kind == "linear" for layer in spiral.network.layers) >= 3


def _doc() -> dict:
    return json.loads(dump_experiment(rich_experiment()))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (lambda: Experiment().to_json()[:-30], "not valid JSON"),
        (lambda: "", "not valid JSON"),
        (lambda: "[1, 2]", "not a playground experiment"),
        (lambda: json.dumps({**_doc(), "version": 3}), "newer playground"),
        (lambda: json.dumps({**_doc(), "version": "2"}), "'version' must be"),
        (lambda: json.dumps({**_doc(), "extra": 1}), "unknown field"),
        (lambda: json.dumps({**_doc(), "network": []}), "'network' must be an object"),
        (lambda: json.dumps({**_doc(), "data": "disk"}), "must be an object"),
        (lambda: json.dumps({**_doc(), "training": {"learning_rate": "fast"}}), "learning rate"),
        (lambda: json.dumps({**_doc(), "training": {"batch_size": 2.5}}), "batch size"),
        (lambda: json.dumps({**_doc(), "training": {"patience": True}}), "patience"),
        (lambda: json.dumps({**_doc(), "data": {"features": "x1"}}), "must be a list"),
        (lambda: json.dumps({**_doc(), "data": {"added": [[1, 2]]}}), "data.added[0]"),
        (lambda: json.dumps({**_doc(), "data": {"added": [[1, "2", 1]]}}), "x2 must be"),
        (lambda: json.dumps({**_doc(), "data": {"added": [[1, 2, 3]]}}), "class 0 to 1"),
        (lambda: json.dumps({**_doc(), "data": {"added": [[1, 2, 1, "x"]]}}), "split must be"),
        (lambda: json.dumps({**_doc(), "data": {"removed": [-1]}}), "Removed points"),
        (lambda: json.dumps({**_doc(), "data": {"domain": [1, 0, 0, 1]}}), "is empty"),
    ],
)
def test_bad_files_are_refused_with_a_reason(text, fragment):
    with pytest.raises(ExperimentError) as info:
        load_experiment(text())
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ('"learning_rate": 1e400', "too large"),
        ('"learning_rate": NaN', "NaN is not allowed"),
        ('"learning_rate": Infinity', "Infinity is not allowed"),
        ('"learning_rate": 1e300', "learning rate"),
        ('"batch_size": 1' + "0" * 5000, "cannot be read"),
        ('"max_epochs": 100000000000000000000', "epoch limit"),
        ('"seed": 100000000000000000000000', "seed"),
        ('"target_test_loss": 1e30', "target test loss"),
    ],
)
def test_huge_numbers_are_refused(patch, fragment):
    text = Experiment().to_json()
    key = patch.split(":")[0]
    lines = [
        patch + ("," if line.rstrip().endswith(",") else "")
        if line.strip().startswith(key)
        else line
        for line in text.splitlines()
    ]
    with pytest.raises(ExperimentError) as info:
        load_experiment("\n".join(lines))
    assert fragment in str(info.value)


def test_huge_points_and_weights_are_refused():
    doc = _doc()
    doc["data"]["added"] = [[1e7, 0, 1]]
    with pytest.raises(ExperimentError, match="too large"):
        load_experiment(json.dumps(doc))
    doc = _doc()
    doc["weights"] = {"epoch": 1, "tensors": {"0.weight": [[1e39]]}}
    with pytest.raises(ExperimentError, match="too large for a float32"):
        load_experiment(json.dumps(doc))


@pytest.mark.parametrize(
    ("tensors", "fragment"),
    [
        ({"0.weight": [[1.0, 2.0]]}, "missing"),
        (
            {
                "0.weight": [[1.0, 2.0, 3.0]] * 3,
                "0.bias": [0.0] * 3,
                "2.weight": [[1.0] * 3],
                "2.bias": [0.0],
            },
            "has shape (3, 3)",
        ),
        (
            {
                "0.weight": [[1.0, 2.0], [1.0], [1.0, 2.0]],
                "0.bias": [0.0] * 3,
                "2.weight": [[1.0] * 3],
                "2.bias": [0.0],
            },
            "ragged",
        ),
        ({"0.weight": "abc"}, "not a finite number"),
    ],
)
def test_weights_that_do_not_fit_the_network_are_refused(tensors, fragment):
    doc = _doc()
    doc["weights"] = {"epoch": 3, "tensors": tensors}
    with pytest.raises(ExperimentError) as info:
        load_experiment(json.dumps(doc))
    assert fragment in str(info.value)


def test_point_edits_and_the_custom_dataset():
    data = DataSpec().with_point(0.2, 0.3, 1).with_point(0.4, 0.5, 0)
    assert [p.label for p in data.added] == [1, 0] and not any(p.test for p in data.added)
    assert data.without_point(-1).added == data.added[1:]
    assert data.without_point(5).without_point(2).removed == (2, 5)
    custom = DataSpec(dataset=CUSTOM)
    assert any("no training points yet" in p for p in custom.problems())
    assert custom.with_point(1.0, 1.0, 1).problems() == []
    imported = DataSpec().with_imported((DataPoint(10, 20, 1), DataPoint(30, 25, 0, True)))
    x0, x1, y0, y1 = imported.plot_domain()
    assert x0 < 10 and x1 > 30 and y0 < 20 and y1 > 25
    # a point outside a generated dataset's area grows the plot to show it
    assert DataSpec().with_point(3.0, 0.5, 1).plot_domain()[1] > 3.0


def test_test_loss_conditions_need_test_points():
    exp = Experiment(
        data=DataSpec(dataset=CUSTOM, added=(DataPoint(0, 0, 1),)),
        train=TrainSpec(patience=5),
    )
    assert any("need test points" in p for p in exp.problems())
