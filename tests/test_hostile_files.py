"""Hostile and broken input (issue 16): every loader answers with its own error, naming the file.

A seeded fuzzer per loader (benchmarks/fuzz_loaders.py: a few hundred mutated files and every
special file, under an alarm and an address-space cap), then the cases the issue names one by
one: named pipes, devices, nesting bombs, huge architectures, NaN weights, other dtypes, losses
as layers, millions of bad CSV rows, over-long fields, files over the size limit.
"""

from __future__ import annotations

import json
import os
import struct

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import minidl
from benchmarks import fuzz_loaders
from minidl import nn
from minidl.io import ModelFileError
from playground.document import ExperimentFileError, read_experiment
from playground.experiment import MAX_FILE_BYTES, Experiment, dump_experiment
from playground.pointfile import PointsFileError, read_points_file

# -- the fuzzers ------------------------------------------------------------------------------


@pytest.mark.timeout(240)
@pytest.mark.parametrize("loader", list(fuzz_loaders.LOADERS))
def test_every_mutated_or_special_file_is_loaded_or_refused_with_the_loaders_error(
    loader, tmp_path
):
    report = fuzz_loaders.run(loader, cases=300, seed=2024, folder=tmp_path)
    # the documented class, the file named, within the alarm and the memory cap: nothing else
    assert report.wrong == []
    assert report.loaded + report.refused == report.cases
    # the mutations reach past the first check: several kinds of refusal, and some survive
    assert len(report.kinds) >= 10 and report.refused > report.cases // 2


# -- special files, for every loader ---------------------------------------------------------

LOADERS = [
    pytest.param(minidl.load, ModelFileError, id="model"),
    pytest.param(read_experiment, ExperimentFileError, id="experiment"),
    pytest.param(read_points_file, PointsFileError, id="points"),
]


@pytest.mark.timeout(30)  # a loader that opened the pipe would wait here forever
@pytest.mark.parametrize(("load", "error"), LOADERS)
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(load, error, tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(error, match="is a named pipe") as info:
        load(pipe)
    assert str(pipe) in str(info.value)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("load", "error"), LOADERS)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_not_read_forever(load, error, device, tmp_path):
    with pytest.raises(error, match="is a device") as info:
        load(device)
    assert device in str(info.value)
    link = tmp_path / "innocent.json"
    link.symlink_to(device)
    with pytest.raises(error, match="is a device"):
        load(link)


@pytest.mark.parametrize(("load", "error"), LOADERS)
def test_a_file_over_the_limit_is_refused_by_its_size_unread(load, error, tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(2**40)  # sparse: a terabyte that takes no disk
    with pytest.raises(error, match="over .* MB") as info:
        load(big)
    assert str(big) in str(info.value)


@pytest.mark.parametrize(("load", "error"), LOADERS)
def test_a_name_too_long_or_a_symlink_loop_is_the_loaders_error(load, error, tmp_path):
    with pytest.raises(error, match="cannot read the file") as info:
        load(tmp_path / ("n" * 300))
    assert "n" * 300 in str(info.value)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(error, match="cannot read the file"):
        load(loop)


# -- model files ------------------------------------------------------------------------------


def _saved(tmp_path, model=None):
    torch.manual_seed(0)
    model = model or nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), nn.Sigmoid())
    path = tmp_path / "m.safetensors"
    minidl.save(model, path)
    return model, path


def _rewrite(path, tensors=None, **meta):
    with safe_open(path, framework="pt") as f:  # not minidl's reading: the file may be broken
        metadata = dict(f.metadata())
    metadata.update(meta)
    save_file(tensors if tensors is not None else load_file(path), path, metadata=metadata)


def _refused(path, fragment):
    with pytest.raises(ModelFileError, match=fragment) as info:
        minidl.load(path)
    assert str(info.value).startswith(f"{path}: ")
    return info.value


def test_deeply_nested_metadata_json_is_refused_not_a_recursion_error(tmp_path):
    _, path = _saved(tmp_path)
    _rewrite(path, architecture="[" * 100_000 + "]" * 100_000)
    _refused(path, "nested too deeply")
    _rewrite(path, architecture='{"type": "Sequential", "layers": [' * 50 + "]}" * 50)
    _refused(path, "nest more than 16 deep")


@pytest.mark.parametrize("version", ["²", "١", "1" * 5000, "-1", "1.0", ""])
def test_a_version_of_unicode_digits_or_thousands_of_digits_is_refused(tmp_path, version):
    _, path = _saved(tmp_path)
    _rewrite(path, format_version=version)
    _refused(path, "format version")


def test_an_integer_of_thousands_of_digits_in_the_architecture_is_refused(tmp_path):
    model, path = _saved(tmp_path)
    arch = json.dumps(minidl.io.architecture(model)).replace('"in_features": 2', "1" * 5000)
    _rewrite(path, architecture=arch.replace("1" * 5000, '"in_features": ' + "1" * 5000))
    _refused(path, "not JSON")


def test_an_architecture_of_huge_layers_is_refused_before_allocating_them(tmp_path):
    _, path = _saved(tmp_path)
    huge = {"type": "Sequential", "layers": [  # named as the file's two Linear layers
        {"name": str(i), "type": "Linear",
         "config": {"in_features": 50000, "out_features": 50000, "bias": True}}
        for i in (0, 2)
    ]}
    _rewrite(path, architecture=json.dumps(huge))
    # 2 x 50000 x 50000 float32 weights are 20 GB: with 256 MB of address space to spare, only
    # a check made before allocating can answer with a ModelFileError
    with fuzz_loaders.bounded_memory(256 * 2**20):
        _refused(path, r"0.weight has shape \(3, 2\), the architecture's is \(50000, 50000\)")
    huge["layers"][0]["config"]["in_features"] = 2**40
    _rewrite(path, architecture=json.dumps(huge))
    _refused(path, "in_features is a huge integer|over 1,048,576")
    deep = {"type": "Sequential", "layers": [{"type": "ReLU"}] * 2000}
    _rewrite(path, architecture=json.dumps(deep))
    _refused(path, "more than 1024 layers")


def test_nonfinite_weights_are_refused_unless_asked_for(tmp_path):
    model, path = _saved(tmp_path)
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    tensors["2.weight"][0, 1] = float("nan")
    tensors["0.bias"][2] = float("inf")
    _rewrite(path, tensors)
    error = _refused(path, "NaN or infinite")
    assert "allow_nonfinite" in error.problem
    loaded = minidl.load(path, allow_nonfinite=True)
    state = loaded.state_dict()
    assert torch.isnan(state["2.weight"][0, 1]) and torch.isinf(state["0.bias"][2])
    assert torch.equal(state["0.weight"], tensors["0.weight"])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64, torch.bool])
def test_weights_of_a_dtype_no_model_has_are_refused(tmp_path, dtype):
    model, path = _saved(tmp_path)
    _rewrite(path, {k: v.to(dtype) for k, v in model.state_dict().items()}, dtype=str(dtype))
    _refused(path, "a model's are F32 or F64")


def test_mixed_dtypes_and_a_dtype_other_than_the_metadata_says_are_refused(tmp_path):
    model, path = _saved(tmp_path)
    tensors = dict(model.state_dict())
    tensors["0.weight"] = tensors["0.weight"].double()
    _rewrite(path, tensors)
    _refused(path, "mix dtypes")
    _rewrite(path, {k: v.double() for k, v in model.state_dict().items()})
    _refused(path, "metadata says the weights are torch.float32, they are torch.float64")
    _rewrite(path, dtype="torch.float64")
    assert minidl.load(path).state_dict()["0.weight"].dtype == torch.float64


def test_a_shape_other_than_the_architectures_is_refused(tmp_path):
    model, path = _saved(tmp_path)
    tensors = dict(model.state_dict())
    tensors["0.weight"] = tensors["0.weight"].t().contiguous()
    _rewrite(path, tensors)
    _refused(path, r"0.weight has shape \(2, 3\), the architecture's is \(3, 2\)")


@pytest.mark.parametrize("loss", ["MSELoss", "BCELoss", "L1Loss", "CrossEntropyLoss"])
def test_an_architecture_ending_in_a_loss_or_a_bare_loss_is_refused(tmp_path, loss):
    model, path = _saved(tmp_path)
    arch = minidl.io.architecture(model)
    arch["layers"].append({"name": "4", "type": loss, "config": {}})
    _rewrite(path, architecture=json.dumps(arch))
    _refused(path, f"layer 4 is a {loss}, a loss")
    save_file({}, path, metadata={"format": "minidl", "format_version": "1", "dtype": "none",
                                  "architecture": json.dumps({"type": loss, "config": {}})})
    _refused(path, f"the model is a {loss}, a loss")
    with pytest.raises(TypeError, match=loss):  # and no model with a loss can be saved
        minidl.save(nn.Sequential(nn.Linear(2, 1), getattr(nn, loss)()), path)


@pytest.mark.parametrize(
    ("layer", "fragment"),
    [
        ({"type": "Module"}, "unknown layer type 'Module'"),
        ({"type": "Parameter"}, "unknown layer type 'Parameter'"),
        ({"type": "ShapeError"}, "unknown layer type 'ShapeError'"),
        ({"type": "Linear", "config": {"in_features": 2, "out_features": 3, "dtype": "x"}},
         "no setting 'dtype'"),
        ({"type": "Linear", "config": {"in_features": 2, "out_features": 3, "generator": {}}},
         "no setting 'generator'"),
        ({"type": "LeakyReLU", "config": {"negative_slope": "nan"}}, "not a finite number"),
        ({"type": "Dropout", "config": {"p": {"a": 1}}}, "not a number, a text"),
        ({"type": "Features", "config": {"features": ["x1"] * 100}}, "not a number, a text"),
    ],
)
def test_only_layers_meant_for_loading_are_built_with_their_own_settings(
    tmp_path, layer, fragment
):
    _, path = _saved(tmp_path, nn.Sequential(nn.ReLU()))
    _rewrite(path, architecture=json.dumps({"type": "Sequential", "layers": [layer]}))
    _refused(path, fragment)


def test_a_header_that_lies_about_its_size_or_offsets_is_refused(tmp_path):
    _, path = _saved(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(struct.pack("<Q", 2**63) + raw[8:])
    _refused(path, "not a valid safetensors file")
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    header["0.weight"]["data_offsets"] = [0, 2**62]
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size :])
    _refused(path, "would lie at bytes")


def test_the_apps_import_shows_a_dialog_for_nan_weights_and_carries_on(qtbot, monkeypatch,
                                                                      tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from tests.windows import make_window

    model, path = _saved(tmp_path)
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    tensors["0.weight"][0, 0] = float("nan")
    _rewrite(path, tensors)
    window = make_window(qtbot)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    before = window.experiment
    assert not window.import_model(str(path))
    assert len(shown) == 1 and str(path) in shown[0] and "NaN or infinite" in shown[0]
    assert window.experiment == before and window.session is not None
    window.session.step()


# -- experiment files ------------------------------------------------------------------------


def test_every_bad_experiment_file_raises_the_one_error_class(tmp_path):
    too_big = tmp_path / "big.json"
    with open(too_big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20_000 + "]" * 20_000)  # fewer lists than a big experiment has
    digits = tmp_path / "digits.json"
    digits.write_text('{"format": "minidl-playground-experiment", "version": ' + "1" * 5000 + "}")
    for path, fragment in [
        (too_big, "over 64 MB"),
        (deep, "nested too deeply"),
        (digits, "cannot be read"),
        (tmp_path, "is a folder"),
    ]:
        with pytest.raises(ExperimentFileError, match=fragment) as info:
            read_experiment(path)
        assert info.value.path == str(path) and str(info.value).startswith(f"{path}: ")


def test_millions_of_lists_are_refused_before_json_builds_them(tmp_path):
    doc = json.loads(dump_experiment(Experiment()))
    text = json.dumps(doc)[:-1] + ', "bomb": [' + "[]," * 5_000_000 + "0]}"
    path = tmp_path / "bomb.json"
    path.write_text(text)
    # 5 M empty lists would take over 300 MB: with 200 MB to spare, json.loads cannot have run
    with fuzz_loaders.bounded_memory(200 * 2**20), pytest.raises(
        ExperimentFileError, match="more than any experiment has"
    ):
        read_experiment(path)


@pytest.mark.timeout(30)
def test_the_app_refuses_a_pipe_as_an_experiment_with_a_dialog(qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from tests.windows import make_window

    pipe = tmp_path / "exp.json"
    os.mkfifo(pipe)
    window = make_window(qtbot)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    before = window.experiment
    assert not window.open_experiment(pipe)
    assert "exp.json" in shown[0] and "is a named pipe" in shown[0]
    assert window.experiment == before and window.session is not None


@pytest.mark.timeout(30)
def test_the_command_line_refuses_a_pipe_in_one_line(tmp_path, capsys):
    from playground.app import parse_args

    pipe = tmp_path / "exp.json"
    os.mkfifo(pipe)
    with pytest.raises(SystemExit) as info:
        parse_args(["--open", str(pipe)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "is a named pipe" in err


# -- points files -----------------------------------------------------------------------------


def test_ten_million_bad_rows_are_refused_by_their_count_at_once(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("x,y\n" * 4_000_000)  # 16 MB, at the size limit
    with pytest.raises(PointsFileError, match="4,000,001 lines") as info:
        read_points_file(path)
    assert str(path) in str(info.value)
    path.write_text("1,2,1\n" + "x,y,z\n" * 19_000)
    with pytest.raises(PointsFileError, match="counting stopped there") as info:
        read_points_file(path)
    assert str(info.value).count("line ") == 5 and "Nothing was imported" in str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1,2,1\n" + "9" * 200_000 + ",2,1\n", "line 2: a value is too long to be a number"),
        ("1,2,1\n1,\x002,1\n", r"line 2: x2 is '\\x002', not a number"),
        ('1,2,1\n"1,2,1\n', "line 2:"),
        ("1,2,1\n" + "x" * 100 + ",2,1\n", "line 2: x1 is 'xxxxxxxx"),
    ],
    ids=["long field", "NUL", "open quote", "long word"],
)
def test_a_broken_csv_line_is_named_never_a_csv_error(tmp_path, text, fragment):
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(PointsFileError, match=fragment) as info:
        read_points_file(path)
    assert str(info.value).startswith(f"{path}: ") and len(str(info.value)) < 500


def test_the_app_refuses_dev_zero_as_points_with_a_dialog(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from tests.windows import make_window

    window = make_window(qtbot)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    before = window.experiment
    assert not window.import_points("/dev/zero")
    assert "zero" in shown[0] and "is a device" in shown[0]
    assert window.experiment == before and window.session is not None
