"""minidl.onnx and minidl.pytorch: every layer kind, exported, agrees with minidl on random inputs.

The oracles are onnxruntime (running the ONNX file) and torch.nn (running the generated ``.py``);
the reference is minidl's own forward pass with the features and the standardisation applied as
the playground trains (features, then (f - mean) / std, then the layers).
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from exported import onnx_prediction, script_prediction

import minidl
from minidl import ExportError, ModelFileError, nn
from minidl.data import Standardizer
from minidl.nn.layers import FEATURES
from minidl.onnx import EMITTERS, FEATURE_NODES
from minidl.pytorch import CODE, FEATURE_CODE

ALL_FEATURES = list(FEATURES)
# the image layers: no model of 2-D points has them, and both exporters refuse them by name
NOT_EXPORTED = {nn.Conv2d, nn.ConvTranspose2d, nn.Upsample, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten}
# a stack of M models is exported model by model (its unstack())
NOT_EXPORTED |= {nn.Stacked, nn.StackedLinear, nn.PerModelFeatures}


def _cases() -> dict[str, tuple[nn.Module, bool, bool]]:
    """name -> (model, standardize?, softmax?), each layer kind at least once."""
    cases = {
        "Linear": (nn.Sequential(nn.Linear(2, 4)), False, False),
        "Linear without bias": (nn.Sequential(nn.Linear(2, 3, bias=False)), False, False),
        "ReLU": (nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 1)), False, False),
        "LeakyReLU": (
            nn.Sequential(nn.Linear(2, 6), nn.LeakyReLU(0.2), nn.Linear(6, 1)),
            False,
            False,
        ),
        "Tanh": (nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 2)), False, False),
        "Sigmoid": (nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 1), nn.Sigmoid()), 0, 0),
        "ELU": (nn.Sequential(nn.Linear(2, 6), nn.ELU(alpha=0.6), nn.Linear(6, 1)), False, False),
        "GELU": (nn.Sequential(nn.Linear(2, 6), nn.GELU(), nn.Linear(6, 2)), False, False),
        "SiLU": (nn.Sequential(nn.Linear(2, 6), nn.SiLU(), nn.Linear(6, 1)), False, False),
        "Softplus": (nn.Sequential(nn.Linear(2, 6), nn.Softplus(), nn.Linear(6, 1)), False, False),
        # beta * x crosses the threshold at some of the points: both of torch's branches
        "Softplus beta threshold": (
            nn.Sequential(nn.Linear(2, 6), nn.Softplus(beta=1.5, threshold=2.0), nn.Linear(6, 1)),
            False,
            False,
        ),
        "Sine": (
            nn.Sequential(nn.Features(["x1", "x2"]), nn.Linear(2, 6), nn.Sine(), nn.Linear(6, 1)),
            True,
            False,
        ),
        "Softmax": (nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=1)), False, False),
        "LogSoftmax": (nn.Sequential(nn.Linear(2, 3), nn.LogSoftmax(dim=-1)), False, False),
        # left in training mode: an export predicts, so Dropout is the identity there
        "Dropout": (nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 1)), False, 0),
        "Identity": (nn.Sequential(nn.Identity(), nn.Linear(2, 2)), False, False),
        "Features, all seven": (
            nn.Sequential(nn.Features(ALL_FEATURES), nn.Linear(7, 4), nn.Tanh(), nn.Linear(4, 1)),
            False,
            False,
        ),
        "Features and standardisation": (
            nn.Sequential(
                nn.Features(["x1", "x1*x2", "sin(x2)"]),
                nn.Linear(3, 4),
                nn.ReLU(),
                nn.Linear(4, 1),
                nn.Sigmoid(),
            ),
            True,
            False,
        ),
        "standardised plain inputs": (nn.Sequential(nn.Linear(2, 3), nn.Tanh()), True, False),
        "cross-entropy's softmax": (
            nn.Sequential(nn.Features(ALL_FEATURES), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 3)),
            True,
            True,
        ),
        "nested Sequential": (
            nn.Sequential(nn.Sequential(nn.Linear(2, 4), nn.ReLU()), nn.Linear(4, 1)),
            False,
            False,
        ),
    }
    for feature in ALL_FEATURES:
        model = nn.Sequential(nn.Features([feature]), nn.Linear(1, 2))
        cases[f"feature {feature}"] = (model, False, False)
    return cases


CASES = _cases()


def _randomised(model: nn.Module, seed: int) -> nn.Module:
    """The model with every parameter drawn afresh (xavier leaves biases at 0, hiding bugs)."""
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.data.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def _points(n: int = 64, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, 2)) * 2).astype(np.float32)


def _scaler(model: nn.Module, seed: int = 1) -> Standardizer:
    """A Standardizer fitted on the features the model's first layer sees."""
    first = next(iter(model))
    x = torch.from_numpy(_points(200, seed))
    features = first(x).data if isinstance(first, nn.Features) else x
    return Standardizer().fit(features)


def _flat(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, nn.Sequential):
        return [layer for child in model for layer in _flat(child)]
    return [model]


def reference(model: nn.Module, x: np.ndarray, scaler=None, softmax=False) -> np.ndarray:
    """minidl's prediction: features, standardisation, layers (eval mode), softmax."""
    layers = _flat(model)
    h = torch.from_numpy(x)
    if isinstance(layers[0], nn.Features):
        h = layers.pop(0)(h).data
    if scaler is not None:
        h = scaler.transform(h)
    rest = nn.Sequential(*layers)
    rest.eval()
    with minidl.no_grad():
        out = rest(h).data
    return (torch.softmax(out, dim=1) if softmax else out).numpy()


def _case(name: str):
    model, standardize, softmax = CASES[name]
    model = _randomised(model, seed=len(name))
    return model, (_scaler(model) if standardize else None), bool(softmax)


def load_generated(path: Path):
    """Import a generated .py file as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"exported_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- every layer kind --------------------------------------------------------------------------


def test_the_cases_cover_every_layer_the_exporters_write():
    kinds = {type(layer) for model, _, _ in CASES.values() for layer in _flat(model)}
    assert kinds == set(EMITTERS) == set(CODE)


def test_every_layer_minidl_has_is_exported_or_refused():
    layers = {
        cls
        for name in nn.__all__
        if isinstance(cls := getattr(nn, name), type)
        and issubclass(cls, nn.Module)
        and cls not in (nn.Module, nn.Sequential)
        and not name.endswith("Loss")
    }
    missing = layers - NOT_EXPORTED - set(EMITTERS)
    assert not missing, f"add {sorted(c.__name__ for c in missing)} to minidl.onnx.EMITTERS"
    missing = layers - NOT_EXPORTED - set(CODE)
    assert not missing, f"add {sorted(c.__name__ for c in missing)} to minidl.pytorch.CODE"
    assert set(FEATURE_NODES) == set(FEATURE_CODE) == set(FEATURES)


def test_a_stack_is_refused_with_what_to_do_instead(tmp_path):
    stacked = nn.stack([nn.Sequential(nn.Linear(2, 3), nn.ReLU()) for _ in range(2)])
    for export in (minidl.onnx.export, minidl.pytorch.export):
        with pytest.raises(minidl.ExportError, match=r"2 stacked models .*unstack\(\)"):
            export(stacked, tmp_path / "m.out")
        assert not (tmp_path / "m.out").exists()


@pytest.mark.parametrize("name", list(CASES))
def test_onnxruntime_agrees_with_minidl(name, tmp_path):
    model, scaler, softmax = _case(name)
    path = tmp_path / "model.onnx"
    minidl.onnx.export(model, path, standardize=scaler, softmax=softmax)
    x = _points()
    np.testing.assert_allclose(
        onnx_prediction(path, x), reference(model, x, scaler, softmax), rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("name", list(CASES))
def test_generated_pytorch_agrees_with_minidl(name, tmp_path):
    model, scaler, softmax = _case(name)
    path = tmp_path / "model.py"
    minidl.pytorch.export(model, path, standardize=scaler, softmax=softmax)
    x = _points()
    torch_model = load_generated(path).build_model()
    assert isinstance(torch_model, torch.nn.Sequential) and not torch_model.training
    with torch.no_grad():
        got = torch_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, reference(model, x, scaler, softmax), rtol=0, atol=1e-5)


def test_a_float64_model_exports_in_float32(tmp_path):
    model = _randomised(nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1)).double(), 3)
    x = _points()
    expected = reference(model, x.astype(np.float64))
    minidl.onnx.export(model, tmp_path / "m.onnx")
    np.testing.assert_allclose(onnx_prediction(tmp_path / "m.onnx", x), expected, atol=1e-5)
    minidl.pytorch.export(model, tmp_path / "m.py")
    with torch.no_grad():
        got = load_generated(tmp_path / "m.py").build_model()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


# -- the ONNX graph ----------------------------------------------------------------------------


def test_the_onnx_file_is_checker_clean_opset_17_with_features_and_scaling_as_nodes(tmp_path):
    model, scaler, _ = _case("cross-entropy's softmax")
    path = tmp_path / "model.onnx"
    minidl.onnx.export(model, path, standardize=scaler, softmax=True, metadata={"loss": "ce"})
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    ops = [node.op_type for node in proto.graph.node]
    # Split into x1, x2; x1², x2², x1·x2 as Mul; two Sin; Concat; Sub and Div; Gemm per Linear
    assert ops.count("Split") == 1 and ops.count("Mul") == 3 and ops.count("Sin") == 2
    assert ops.index("Concat") < ops.index("Sub") < ops.index("Div") < ops.index("Gemm")
    assert ops.count("Gemm") == 2 and ops[-2:] == ["Softmax", "Identity"]
    initializers = {i.name for i in proto.graph.initializer}
    assert {"1.weight", "1.bias", "3.weight", "3.bias"} <= initializers  # state_dict names
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["prediction"]
    assert {p.key: p.value for p in proto.metadata_props} == {"loss": "ce"}


def test_an_unsupported_layer_is_refused_by_name_and_the_old_file_stays(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    model = nn.Sequential(nn.Linear(4, 4), nn.Conv2d(1, 1, 3))
    with pytest.raises(ExportError, match=r"layer 1 \(Conv2d\) cannot be exported to ONNX"):
        minidl.onnx.export(model, path)
    nested = nn.Sequential(nn.Sequential(nn.Linear(4, 4), nn.Flatten()))
    with pytest.raises(ExportError, match=r"layer 0\.1 \(Flatten\) cannot be exported to Py"):
        minidl.pytorch.export(nested, tmp_path / "model.py")
    assert path.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [path]


def test_a_scaling_of_the_wrong_width_is_refused(tmp_path):
    model = nn.Sequential(nn.Features(["x1", "x2", "x1^2"]), nn.Linear(3, 1))
    for export in (minidl.onnx.export, minidl.pytorch.export):
        with pytest.raises(ExportError, match="standardize has 2 columns .* takes 3"):
            export(model, tmp_path / "m", standardize=([0.0, 0.0], [1.0, 1.0]))
        with pytest.raises(ExportError, match="std must be positive"):
            export(model, tmp_path / "m", standardize=([0.0] * 3, [1.0, 0.0, 1.0]))


def test_a_file_that_cannot_be_written_is_a_model_file_error(tmp_path):
    model = nn.Sequential(nn.Linear(2, 1))
    for export, name in ((minidl.onnx.export, "m.onnx"), (minidl.pytorch.export, "m.py")):
        with pytest.raises(ModelFileError, match="cannot write"):
            export(model, tmp_path / "no-such-folder" / name)


def test_without_the_onnx_package_minidl_imports_and_onnx_export_says_what_to_install(
    tmp_path, monkeypatch
):
    code = "import sys; sys.modules['onnx'] = None; import minidl, minidl.onnx; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ExportError, match="needs the onnx package.*pip install onnx"):
        minidl.onnx.export(nn.Sequential(nn.Linear(2, 1)), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# -- the PyTorch file --------------------------------------------------------------------------


def test_the_pytorch_file_runs_as_a_script_one_line_per_point(tmp_path):
    model, scaler, softmax = _case("cross-entropy's softmax")
    path = tmp_path / "classes.py"
    minidl.pytorch.export(model, path, standardize=scaler, softmax=softmax)
    x = _points(5)
    rows = script_prediction(path, x)
    np.testing.assert_allclose(rows, reference(model, x, scaler, softmax), rtol=0, atol=1e-5)
    usage = subprocess.run([sys.executable, str(path), "0.5"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: python" in usage.stderr and "X1 X2" in usage.stderr


def test_the_pytorch_file_is_plain_readable_code_without_pickle(tmp_path):
    model, scaler, softmax = _case("cross-entropy's softmax")
    path = tmp_path / "model.py"
    minidl.pytorch.export(model, path, standardize=scaler, softmax=softmax, metadata={"a": "b"})
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    assert imported == {"__future__", "array", "base64", "sys", "torch"}
    assert "torch.load" not in source and "frombuffer" not in source  # numbers only
    assert "class Features(nn.Module)" in source and "class Standardize(nn.Module)" in source
    assert "torch.sin(x1)" in source and "nn.Linear(7, 6)" in source
    lint = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--line-length",
            "100",
            "--select",
            "E,F,W,I,B,UP,SIM",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    assert load_generated(path).ABOUT == {"a": "b"}


def test_odd_metadata_and_file_names_cannot_break_the_pytorch_file(tmp_path):
    odd = {"quote": 'a """docstring""" end', "newline": "one\ntwo", "number": 3}
    path = tmp_path / 'we"ird.py'
    minidl.pytorch.export(nn.Sequential(nn.Linear(2, 1)), path, metadata=odd)
    module = load_generated(path)
    about = module.ABOUT
    assert about == {k: str(v) for k, v in odd.items()}
    assert "python model.py X1 X2" in module.__doc__
