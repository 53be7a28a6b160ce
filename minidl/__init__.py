"""minidl: a small deep-learning engine on torch tensors, with its own autograd.

>>> import minidl
>>> from minidl import nn, optim
>>> model = nn.Sequential(nn.Linear(2, 25), nn.ReLU(), nn.Linear(25, 1), nn.Sigmoid())
"""

from . import functional, init, nn, optim
from .tensor import (
    Function,
    GraphFreedError,
    Parameter,
    Tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
)

__all__ = [
    "Tensor",
    "Parameter",
    "Function",
    "GraphFreedError",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "functional",
    "init",
    "nn",
    "optim",
]
__version__ = "0.1.0"

from . import data, io, train  # noqa: E402
from .io import ModelFileError, load, save  # noqa: E402
from .step import TrainStep  # noqa: E402

__all__ += ["data", "io", "train", "save", "load", "ModelFileError", "TrainStep"]
