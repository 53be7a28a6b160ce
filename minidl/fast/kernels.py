"""A chain of layers' forward and backward, written out as straight-line Python once per chain.

A ``Sequential`` of Linear layers and elementwise layers (ReLU, LeakyReLU, Tanh, Sigmoid, ELU, GELU,
SiLU, Softplus, Sine, Dropout) runs, in the eager engine, one Module call, one ``Function.apply``
and one Node per layer, then a graph walk. For such a chain the graph is known before it runs, so it
can be written out: ``chain_kernels`` writes the source of two functions that call each layer's op —
``forward`` and ``backward`` of ``minidl/ops`` — in the order the eager step would, with one ctx per
op, and nothing else. The maths is the ops' own; what is gone is the bookkeeping.

The source is registered with ``linecache`` under its own file name, so tracebacks and pdb show
its lines, and ``kernels.source`` (or ``minidl.fast.source``) prints it.
"""

from __future__ import annotations

import hashlib
import linecache
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import ops

__all__ = ["Ctx", "Kernels", "chain_kernels", "LINEAR", "ELEMENTWISE", "WITH_OPTIONS"]

LINEAR = ops.Linear
ELEMENTWISE = (ops.ReLU, ops.Tanh, ops.Sigmoid, ops.GELU, ops.SiLU, ops.Sine)  # no option
# one input and options, passed in order: (slope,), (p,), (alpha,), (beta, threshold)
WITH_OPTIONS = (ops.LeakyReLU, ops.Dropout, ops.ELU, ops.Softplus)


class Ctx:
    """What a Node is to an op, minus the graph: ``needs_input_grad``, ``save`` and ``saved``."""

    __slots__ = ("needs_input_grad", "saved", "__dict__")

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self.saved: tuple = ()

    def save(self, *tensors: Any) -> None:
        self.saved = tensors


@dataclass(frozen=True)
class Kernels:
    """The written-out forward and backward of one chain, and what they need.

    ``forward(x, args, ctx) -> y``: ``args[i]`` is op i's operands after its input (a Linear's
    (weight, bias), the options of LeakyReLU, Dropout, ELU or Softplus as a tuple, ()
    otherwise) and ``ctx[i]`` its ctx.
    ``backward(g, ctx) -> list``: the gradient of every Linear's weight and bias (None for an
    absent bias), in order, from dL/dy.
    ``needs[i]`` is op i's ``needs_input_grad``, for the ctx objects a caller makes.
    """

    ops: tuple[type, ...]
    needs: tuple[tuple[bool, ...], ...]
    forward: Callable[..., Any]
    backward: Callable[..., list]
    source: str
    filename: str


_CACHE: dict[tuple, Kernels] = {}


def chain_kernels(chain: tuple[type, ...], biases: tuple[bool, ...]) -> Kernels:
    """The kernels of a chain of ops (``ops.Linear`` and the elementwise ops above), made once.

    ``biases`` says, for each Linear in order, whether it has a bias. The chain's input needs
    no gradient (it is data): an op before the first Linear needs none either, and backward
    stops at the first Linear.
    """
    key = (chain, biases)
    kernels = _CACHE.get(key)
    if kernels is None:
        kernels = _CACHE[key] = _write(chain, biases)
    return kernels


def _write(chain: tuple[type, ...], biases: tuple[bool, ...]) -> Kernels:
    for op in chain:
        if op is not LINEAR and op not in ELEMENTWISE and op not in WITH_OPTIONS:
            raise TypeError(f"chain_kernels: {op.__name__} is not an op a chain can hold")
    needs = []
    grad_flows = False  # whether the input of op i depends on a parameter
    linear = 0
    for op in chain:
        if op is LINEAR:
            needs.append((grad_flows, True, biases[linear]))
            linear += 1
            grad_flows = True
        else:
            needs.append((grad_flows,))
    names = {op.__name__: op for op in chain}
    title = " → ".join(op.__name__ for op in chain)

    forward = [
        "def forward(x, args, ctx):",
        f'    """{title}: each op\'s own forward, in order."""',
        "    h = x",
    ]
    for i, op in enumerate(chain):
        if op is LINEAR:
            forward.append(f"    h = Linear.forward(ctx[{i}], h, args[{i}][0], args[{i}][1])")
        elif op in WITH_OPTIONS:
            forward.append(f"    h = {op.__name__}.forward(ctx[{i}], h, *args[{i}])")
        else:
            forward.append(f"    h = {op.__name__}.forward(ctx[{i}], h)")
    forward.append("    return h")

    count = linear
    grads = [f"dw{k}, db{k}" for k in range(1, count + 1)]
    backward = [
        "def backward(g, ctx):",
        f'    """{title}: each op\'s own backward, last first; the weights\' and biases\' '
        'gradients."""',
    ]
    k = count
    for i in range(len(chain) - 1, -1, -1):
        op = chain[i]
        if op is LINEAR:
            backward.append(f"    g, dw{k}, db{k} = Linear.backward(ctx[{i}], g)")
            k -= 1
            if k == 0:
                break  # nothing before the first Linear needs a gradient
        else:
            backward.append(f"    (g,) = {op.__name__}.backward(ctx[{i}], g)")
    backward.append(f"    return [{', '.join(grads)}]")

    source = "\n".join(forward + ["", ""] + backward) + "\n"
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    filename = f"<minidl.fast kernels {digest}>"
    # tracebacks and pdb read a file's lines through linecache: give them this source
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = dict(names)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own source, above
    return Kernels(
        tuple(chain), tuple(needs), namespace["forward"], namespace["backward"], source, filename
    )
