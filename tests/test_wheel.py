"""The package installs: ``python -m build`` makes a wheel that a clean venv installs, and its
``minidl-playground`` command starts the app, trains, exports and quits.

Slow (about a minute: most of it pip unpacking torch and Qt into the new venv), so marked
``slow``, but part of the suite: ``pytest -m "not slow"`` leaves it out when you are in a hurry.
The new venv has no system site-packages; pip finds the packages as it would for a user, with
this machine's configuration, held to the versions the test venv has (torch's CPU build, not a
multi-GB download of another).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import torch
from exported import script_prediction

import minidl

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{cmd[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_installs_into_a_clean_venv_and_the_command_starts_the_app(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], timeout=300)
    (wheel,) = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = _run(["git", "ls-files", "minidl", "playground"], cwd=ROOT).stdout.split()
    assert set(tracked) <= names  # every source file and resource (icons, examples)
    assert any(n.startswith("playground/resources/icons/") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python, command = env_dir / "bin" / "python", env_dir / "bin" / "minidl-playground"
    pins = tmp_path / "pins.txt"
    pins.write_text(
        "".join(f"{p}=={version(p)}\n" for p in ("torch", "PySide6-Essentials", "numpy"))
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run(
        [str(python), "-m", "pip", "install", "-q", "-c", str(pins), str(wheel)],
        env=env,
        timeout=600,
    )
    where = _run(
        [str(python), "-c", "import minidl, playground; print(playground.__file__)"],
        cwd=tmp_path,
        env=env,
    ).stdout
    assert where.startswith(str(env_dir))  # the installed copy, not this checkout

    model, code, shot = tmp_path / "m.safetensors", tmp_path / "m.py", tmp_path / "shot.png"
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    _run(
        [
            str(command),
            "--features",
            "x1,x2,x1*x2",
            "--epochs",
            "2",
            "--train",
            "--export",
            str(model),
            "--export",
            str(code),
            "--screenshot",
            str(shot),
            "--quit-when-done",
        ],
        cwd=tmp_path,
        env=env,
        timeout=180,
    )
    assert shot.stat().st_size > 10_000
    x = np.random.default_rng(0).random((20, 2)).astype(np.float32)
    with minidl.no_grad():
        expected = minidl.load(model)(torch.from_numpy(x)).data.numpy()
    np.testing.assert_allclose(script_prediction(code, x), expected, rtol=0, atol=1e-5)
