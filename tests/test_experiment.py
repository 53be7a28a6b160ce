"""playground.experiment: the pure-data description of a run, its checks and its file format."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from playground.experiment import (
    DATASETS,
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
    from minidl.nn.layers import FEATURES as ENGINE_FEATURES

    assert tuple(ENGINE_DATASETS) == DATASETS
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
    assert TrainSpec(loss="cross_entropy").out_width == 2
    assert TrainSpec(loss="bce").out_width == 1


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
