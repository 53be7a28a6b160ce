"""Model files: round trip, torch interchange, and every kind of bad file."""

from __future__ import annotations

import json
import os
import pickle
import stat

import pytest
import torch
from safetensors.torch import load_file, save_file

import minidl
from minidl import nn
from minidl.io import ModelFileError, atomic_write, load, save


def make_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(2, 25), nn.ReLU(), nn.Linear(25, 25), nn.LeakyReLU(0.2), nn.Linear(25, 25),
        nn.Tanh(), nn.Dropout(0.1), nn.Linear(25, 1), nn.Sigmoid(),
    )


def torch_equivalent() -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(2, 25), torch.nn.ReLU(), torch.nn.Linear(25, 25),
        torch.nn.LeakyReLU(0.2), torch.nn.Linear(25, 25), torch.nn.Tanh(),
        torch.nn.Dropout(0.1), torch.nn.Linear(25, 1), torch.nn.Sigmoid(),
    )


@pytest.fixture
def saved(tmp_path):
    model = make_model()
    path = tmp_path / "model.safetensors"
    save(model, path)
    return model, path


def test_round_trip_gives_identical_predictions(saved):
    model, path = saved
    loaded = load(path)
    assert repr(loaded) == repr(model)
    x = torch.rand(500, 2)
    model.eval(), loaded.eval()
    assert torch.equal(model(x).data, loaded(x).data)


def test_round_trip_keeps_float64(tmp_path):
    model = make_model().double()
    save(model, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    assert all(p.dtype == torch.float64 for p in loaded.parameters())


def test_file_loads_into_the_equivalent_torch_sequential(saved):
    model, path = saved
    twin = torch_equivalent()
    twin.load_state_dict(load_file(path))
    twin.eval(), model.eval()
    x = torch.rand(100, 2)
    torch.testing.assert_close(twin(x).detach(), model(x).data, rtol=0, atol=0)


def test_a_torch_state_dict_saved_by_safetensors_needs_our_metadata(tmp_path):
    path = tmp_path / "torch.safetensors"
    save_file(torch_equivalent().state_dict(), path)
    with pytest.raises(ModelFileError, match="not a minidl model") as info:
        load(path)
    assert str(path) in str(info.value)


def test_no_pickle_in_the_file(saved):
    _, path = saved
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    arch = json.loads(header["__metadata__"]["architecture"])
    assert arch["type"] == "Sequential" and arch["layers"][0]["config"]["in_features"] == 2
    assert b"\x80\x04" not in raw[:2]


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty"),
        (b"\x00" * 3, "not a valid safetensors file"),
        (os.urandom(4096), "not a valid safetensors file"),
        (pickle.dumps({"0.weight": [1.0, 2.0]}), "pickle"),
        (b"{not json at all", "not a valid safetensors file"),
    ],
    ids=["empty", "tiny", "random", "pickle", "text"],
)
def test_bad_files_raise_minidl_errors_naming_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=problem) as info:
        load(path)
    assert str(path) in str(info.value)


def test_truncated_file(saved):
    _, path = saved
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="truncated") as info:
        load(path)
    assert str(path) in str(info.value)


def test_torch_save_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch_equivalent().state_dict(), path)
    with pytest.raises(ModelFileError, match="pickle"):
        load(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="folder"):
        load(tmp_path)


def _rewrite_metadata(path, **changes):
    tensors = load_file(path)
    meta = dict(minidl.io.read_metadata(path))
    meta.update(changes)
    save_file(tensors, path, metadata=meta)


def test_newer_format_version_is_refused(saved):
    _, path = saved
    _rewrite_metadata(path, format_version="99")
    with pytest.raises(ModelFileError, match="newer"):
        load(path)


def test_invalid_architecture_and_mismatched_weights(saved):
    _, path = saved
    _rewrite_metadata(path, architecture='{"type": "Warp", "config": {}}')
    with pytest.raises(ModelFileError, match="unknown layer type 'Warp'"):
        load(path)
    arch = minidl.io.architecture(nn.Sequential(nn.Linear(2, 3)))
    _rewrite_metadata(path, architecture=json.dumps(arch))
    with pytest.raises(ModelFileError, match="do not fit"):
        load(path)


def test_custom_modules_cannot_be_described():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)

    with pytest.raises(TypeError, match="Custom"):
        minidl.io.architecture(Custom())


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "model.safetensors"
    save(make_model(), path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError), atomic_write(path) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("crash mid-save")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_save_into_a_missing_folder_names_the_file(tmp_path):
    path = tmp_path / "no" / "such" / "model.safetensors"
    with pytest.raises(ModelFileError, match="cannot write") as info:
        save(make_model(), path)
    assert str(path) in str(info.value)


def test_the_newer_activations_round_trip_with_their_settings(tmp_path):
    model = nn.Sequential(
        nn.Linear(2, 6), nn.ELU(alpha=0.7), nn.Linear(6, 6), nn.GELU(), nn.Linear(6, 6), nn.SiLU(),
        nn.Linear(6, 6), nn.Softplus(beta=2.0, threshold=3.0), nn.Linear(6, 6), nn.Sine(),
        nn.Linear(6, 1),
    )
    save(model, tmp_path / "a.safetensors")
    loaded = load(tmp_path / "a.safetensors")
    assert repr(loaded) == repr(model)
    x = torch.randn(20, 2)
    assert torch.equal(model(x).data, loaded(x).data)


def test_features_layer_round_trips(tmp_path):
    model = nn.Sequential(nn.Features(["x1", "x2", "x1^2", "sin(x2)"]), nn.Linear(4, 1))
    save(model, tmp_path / "f.safetensors")
    loaded = load(tmp_path / "f.safetensors")
    x = torch.rand(20, 2)
    assert torch.equal(model(x).data, loaded(x).data)
    expected = torch.stack([x[:, 0], x[:, 1], x[:, 0] ** 2, torch.sin(x[:, 1])], 1)
    torch.testing.assert_close(nn.Features(["x1", "x2", "x1^2", "sin(x2)"])(x).data, expected)


def test_a_saved_file_gets_the_mode_open_would_give_and_a_replaced_one_keeps_its_own(tmp_path):
    model = nn.Sequential(nn.Linear(2, 1))
    old = os.umask(0o027)
    try:
        path = tmp_path / "m.safetensors"
        minidl.save(model, path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0666 less the umask
        os.chmod(path, 0o604)
        minidl.save(model, path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o604  # replacing keeps the file's mode
    finally:
        os.umask(old)
