"""minidl: a small deep-learning engine on torch tensors, with its own autograd.

>>> import minidl
>>> from minidl import nn, optim
>>> model = nn.Sequential(nn.Linear(2, 25), nn.ReLU(), nn.Linear(25, 1), nn.Sigmoid())
"""

from . import functional, init, nn, ops, optim
from .tensor import (
    Function,
    GraphFreedError,
    Parameter,
    ShapeError,
    Tensor,
    enable_grad,
    graph_of,
    is_grad_enabled,
    no_grad,
)

__all__ = [
    "Tensor",
    "Parameter",
    "Function",
    "GraphFreedError",
    "ShapeError",
    "graph_of",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "functional",
    "ops",
    "init",
    "nn",
    "optim",
]
__version__ = "0.1.0"


def formula(layer: object) -> tuple[str, str]:
    """(forward, backward) formulas of a layer (module or class) or op, from the op's docstring.

    ``minidl.formula(nn.ReLU())`` -> ``("y = max(0, x)", "dx = g where x > 0, else 0")``.
    Raises TypeError for a module that records no single op (a Sequential, Features).
    """
    op = layer if isinstance(layer, type) and issubclass(layer, Function) else getattr(
        layer, "op", None
    )
    if op is None:
        raise TypeError(f"{layer!r} records no single op: it has no formula")
    return op.formula()


__all__ += ["formula"]

from . import (  # noqa: E402
    data,
    fast,  # noqa: E402
    io,
    onnx,  # needs the onnx package only when it exports
    pytorch,
    train,
)
from .export import ExportError  # noqa: E402
from .fast import TrainStep  # noqa: E402
from .io import ModelFileError, load, save  # noqa: E402

__all__ += ["data", "io", "train", "save", "load", "ModelFileError", "TrainStep", "fast"]
__all__ += ["onnx", "pytorch", "ExportError"]
