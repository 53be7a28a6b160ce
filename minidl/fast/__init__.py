"""minidl.fast: the same training step with less bookkeeping, held to the eager engine bit for bit.

The eager engine (``minidl/tensor.py``, ``minidl/ops``, ``minidl/nn``) records a Node per layer and
walks the graph back, which is what a reader comes to see, and what costs most of a small
network's step: for the seeds' 2-25-25-25-1 network the arithmetic is a few dozen tiny torch
calls, and the Module calls, Tensors, Nodes and the graph walk around them take as long again.

This package is the one place that trades that bookkeeping for speed, opt in:

- ``kernels.chain_kernels`` writes a chain of layers (Linear, ReLU, LeakyReLU, Tanh, Sigmoid, ELU,
  GELU, SiLU, Softplus, Sine, Dropout) and its loss out as one straight-line Python function that
  runs each op's own ``forward`` and ``backward`` from ``minidl/ops`` in the order the eager step
  would, their lines copied in by ``inline.py`` (renamed locals, the ctx made plain names). No
  formula is restated here: change an op in ``minidl/ops`` and the fast step changes with it.
- ``TrainStep(model, loss_fn, optimizer)`` runs those kernels, the loss op and the optimiser
  for one batch (``TrainStep.epoch``: for a pass over the batches, what every step reads read
  once); for any other model, loss, optimiser set-up or batch it runs the eager step as
  written. ``minidl.train.fit`` uses it (``fit(..., fast=False)`` runs the eager step).
- ``workspace.with_buffers`` rewrites the kernels so that their intermediates are written
  (``out=``, the same torch calls) into buffers kept between steps, shared where their lives do
  not overlap; gradients and losses stay fresh tensors, as the eager step makes them.

How it is held to the eager path: the same ops, called with the same tensors in the same
order, give the same bits. tests/test_fast.py trains models both ways and compares losses,
every ``.grad`` and every weight with ``torch.equal`` (chains with every layer kind, every loss,
SGD with momentum, Nesterov and weight decay, Adam, two parameter groups, Dropout, frozen or
replaced parameters, a model changed between steps), and checks that errors read the same.

The generated source is visible: ``source(step)`` (or ``step.source``) prints it, and it is
registered with ``linecache``, so a traceback or pdb inside a kernel shows its lines.
"""

from __future__ import annotations

from typing import Any

from .kernels import Kernels, chain_kernels
from .step import TrainStep, chain_of

__all__ = ["TrainStep", "chain_kernels", "chain_of", "source", "Kernels"]


def source(obj: Any, loss: type | None = None) -> str:
    """The generated kernels' source for a TrainStep, a Kernels, or a model TrainStep takes
    (trained with the loss op ``loss``: ``ops.MSELoss`` unless given; for a stack, taken per
    model with the mean).

    Raises TypeError for a model (or step) that the fast step does not run.
    """
    if isinstance(obj, Kernels):
        return obj.source
    if isinstance(obj, TrainStep):
        text = obj.source
        if text is None:
            raise TypeError("this TrainStep runs the eager step: it has no generated source")
        return text
    layers = chain_of(obj)
    if layers is None:
        raise TypeError(f"{type(obj).__name__} is not a chain the fast step runs")
    from .. import ops
    from ..nn.stack import Stacked
    from .step import LAYER_OPS

    linears = [m for m in layers if hasattr(m, "in_features")]
    return chain_kernels(
        tuple(LAYER_OPS[type(m)] for m in layers),
        tuple(m.bias is not None for m in linears),
        ops.MSELoss if loss is None else loss,
        "mean" if isinstance(obj, Stacked) else None,  # a stack's loss: a mean per model
    ).source
