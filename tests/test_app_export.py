"""Exporting the playground's model as ONNX and as PyTorch code: from the session, from
File > Export Model… (dialogs monkeypatched) and from the command line.

The oracle for each file is the session's own prediction at raw (x1, x2) points, or, for the
scripted launch, the .safetensors model the same run exported (minidl.load), whose scaling is
folded into its first layer: two independent roads to the same numbers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from exported import onnx_prediction, script_prediction
from PySide6.QtWidgets import QFileDialog, QMessageBox
from windows import make_window

import minidl
from playground.experiment import Experiment, NetworkSpec
from playground.model_files import MODEL_FORMATS, model_filter, model_path
from playground.session import Session

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("x1", "x2", "x1*x2", "sin(x1)", "x2^2")


def _points(n: int = 40) -> np.ndarray:
    return np.random.default_rng(7).uniform(-0.2, 1.2, size=(n, 2)).astype(np.float32)


def _session(loss: str, layers: str) -> Session:
    exp = Experiment()
    exp = exp.replace(
        network=NetworkSpec.parse(layers),
        data=replace(exp.data, features=FEATURES, points=300),
        train=replace(exp.train, loss=loss),
    )
    session = Session(exp)
    session.step(3)
    return session


@pytest.mark.parametrize(
    ("loss", "layers"),
    [
        ("mse", "linear:6,tanh,linear:4,leakyrelu:0.1,linear:1,sigmoid"),
        ("cross_entropy", "linear:6,relu,dropout:0.2,linear:2"),
    ],
)
def test_session_exports_agree_with_the_session(loss, layers, tmp_path):
    session = _session(loss, layers)
    assert session.scaler is not None  # the features are standardised in training
    x = _points()
    expected = session.predict_points(x)  # P(class 1)
    session.save_model(tmp_path / "m.onnx")
    session.save_model(tmp_path / "m.py")
    for got in (onnx_prediction(tmp_path / "m.onnx", x), script_prediction(tmp_path / "m.py", x)):
        if loss == "cross_entropy":  # the class probabilities, summing to 1
            np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)
            got = got[:, 1:]
        np.testing.assert_allclose(got[:, 0], expected, rtol=0, atol=1e-5)


def test_model_path_takes_the_suffix_of_the_chosen_filter():
    filters = model_filter().split(";;")
    assert [f[f.index("(*") + 2 : -1] for f in filters] == list(MODEL_FORMATS)
    assert model_path("/a/m", filters[1]) == "/a/m.onnx"
    assert model_path("/a/m", filters[2]) == "/a/m.py"
    assert model_path("/a/m.v2", filters[2]) == "/a/m.v2.py"
    assert model_path("/a/m.py", filters[0]) == "/a/m.py"  # a typed suffix wins
    assert model_path("/a/m", "") == "/a/m.safetensors"


@pytest.mark.parametrize("chosen", [1, 2])
def test_export_model_offers_each_format_by_filter(chosen, qtbot, monkeypatch, tmp_path):
    win = make_window(
        qtbot, Experiment().replace(data=replace(Experiment().data, features=FEATURES))
    )
    win.start()
    win.session.step(2)
    offered = []

    def dialog(parent, title, start, filters):
        offered.append(filters)
        return str(tmp_path / "exported"), filters.split(";;")[chosen]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    win.export_action.trigger()
    assert all(f"(*{suffix})" in offered[0] for suffix in MODEL_FORMATS)
    path = tmp_path / ("exported.onnx" if chosen == 1 else "exported.py")
    assert path.exists() and f"to {path}" in win.statusBar().currentMessage()
    x = _points()
    got = onnx_prediction(path, x) if chosen == 1 else script_prediction(path, x)
    np.testing.assert_allclose(got[:, 0], win.session.predict_points(x), rtol=0, atol=1e-5)


def test_an_export_the_engine_refuses_gets_a_dialog(qtbot, monkeypatch, tmp_path):
    win = make_window(qtbot)
    win.start()

    def refuse(path):
        raise minidl.ExportError("layer 3 (Mystery) cannot be exported to ONNX")

    monkeypatch.setattr(win.session, "save_model", refuse)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    assert not win.export_model(str(tmp_path / "m.onnx"))
    assert "Could not export" in shown[0] and "Mystery" in shown[0]


def test_scripted_launch_exports_onnx_and_pytorch_code(tmp_path):
    paths = {suffix: tmp_path / f"model{suffix}" for suffix in MODEL_FORMATS}
    cmd = [sys.executable, str(ROOT / "main.py"), "--features", ",".join(FEATURES)]
    cmd += ["--layers", "linear:8,relu,linear:1,sigmoid", "--epochs", "3", "--train"]
    for path in paths.values():
        cmd += ["--export", str(path)]
    cmd += ["--quit-when-done"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = minidl.load(paths[".safetensors"])  # features inside, scaling folded into layer 0
    x = _points()
    with minidl.no_grad():
        expected = model(torch.from_numpy(x)).data.numpy()
    np.testing.assert_allclose(onnx_prediction(paths[".onnx"], x), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(script_prediction(paths[".py"], x), expected, rtol=0, atol=1e-5)
