"""The application state without a window: the Change rule, clean/dirty, edits, files."""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground.experiment import DataSpec, Experiment, NetworkSpec, TrainSpec


def test_importing_a_model_keeps_your_added_points(tmp_path):
    """Issue 12 item 9: the import rebuilt DataSpec from JSON rows ("Added point 1: not a point")."""
    from playground.session import Session, experiment_with_model, read_model

    data = DataSpec(domain=(-1.0, 2.0, -1.0, 2.0)).with_point(0.2, 0.3, 1).with_point(0.7, 0.1, 0)
    exp = Experiment(data=data)
    assert exp.problems() == []
    path = tmp_path / "m.safetensors"
    Session(Experiment(network=NetworkSpec.parse("linear:3,tanh,linear:1"))).save_model(path)
    imported = read_model(path)
    result = experiment_with_model(exp, imported)
    assert result.problems() == []
    assert result.data == replace(data, features=imported.features)
    assert result.network == imported.network and result.train == exp.train
    Session(result)  # it trains
