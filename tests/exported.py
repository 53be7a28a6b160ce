"""Running an exported model as its users do: onnxruntime on .onnx, Python on the .py file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def onnx_prediction(path: Path, x: np.ndarray) -> np.ndarray:
    """onnxruntime's output of the exported graph for the float32 points ``x``."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["prediction"], {"x": x})[0]


def script_prediction(path: Path, x: np.ndarray) -> np.ndarray:
    """What ``python model.py X1 X2 ...`` prints for the points ``x``, one row per point."""
    done = subprocess.run(
        [sys.executable, str(path), *(repr(float(v)) for v in x.ravel())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return np.array([[float(v) for v in line.split()] for line in done.stdout.splitlines()])
