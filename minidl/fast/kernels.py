"""A chain of layers' training step, written out as one straight-line Python function per chain.

A ``Sequential`` of Linear layers and elementwise layers (ReLU, LeakyReLU, Tanh, Sigmoid, ELU, GELU,
SiLU, Softplus, Sine, Dropout) runs, in the eager engine, one Module call, one ``Function.apply``
and one Node per layer, then a graph walk. For such a chain the graph is known before it runs, so it
can be written out: ``chain_kernels`` writes the source of one function that runs each layer's op
``forward``, the loss's forward and backward, and each layer's ``backward``, last first — the order
the eager step runs them — with the ops' own lines copied in (``inline.py``): the maths is the ops'
own, to the bit; what is gone is the bookkeeping (calls, ctx objects, Nodes).

The source is registered with ``linecache`` under its own file name, so tracebacks and pdb show
its lines, and ``kernels.source`` (or ``minidl.fast.source``) prints it.
"""

from __future__ import annotations

import hashlib
import inspect
import linecache
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import ops
from . import workspace
from .inline import Uninlinable, inline

__all__ = ["Ctx", "Kernels", "chain_kernels", "LINEAR", "LINEARS", "ELEMENTWISE", "WITH_OPTIONS"]

LINEAR = ops.Linear
# the ops with a weight and an optional bias: a model's Linear, a stack's BatchedLinear
LINEARS = (ops.Linear, ops.BatchedLinear)
ELEMENTWISE = (ops.ReLU, ops.Tanh, ops.Sigmoid, ops.GELU, ops.SiLU, ops.Sine)  # no option
# one input and options, passed in order, and how many: (slope,), (p,), (alpha,), (beta, threshold)
OPTION_COUNT = {ops.LeakyReLU: 1, ops.Dropout: 1, ops.ELU: 1, ops.Softplus: 2}
WITH_OPTIONS = tuple(OPTION_COUNT)


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
    """The written-out step of one chain and loss.

    ``run(x, y, args, reduction, options, check) -> (loss, grads)``: ``args[i]`` is op i's
    operands after its input (a Linear's (weight, bias), the options of LeakyReLU, Dropout, ELU
    or Softplus as a tuple, () otherwise); ``options`` the loss's keyword options (Huber's
    delta); ``check(output, y, reduction, **options)`` is the loss's check, called where the
    eager loss module calls it; ``grads`` is the gradient of every Linear's weight and bias
    (None for an absent bias), in order.
    """

    ops: tuple[type, ...]
    loss: type | None
    run: Callable[..., tuple[Any, list]]
    source: str
    filename: str
    # ``run`` with its intermediates in buffers kept between calls (``workspace.py``): ``keep``
    # takes a workspace list of ``buffers`` Nones and fills it, ``reuse`` writes into it;
    # both take ``run``'s arguments and the list last, and give ``run``'s results to the bit
    keep: Callable[..., tuple[Any, list]] | None = None
    reuse: Callable[..., tuple[Any, list]] | None = None
    buffers: int = 0
    lives: tuple[tuple[int, int], ...] | None = None  # for workspace.share
    in_place: tuple[bool, ...] = ()


_CACHE: dict[tuple, Kernels] = {}
# the names ``run`` itself binds (its arguments, h, g, the loss, results): no op's name may be one
_RESERVED = frozenset(
    ("x", "y", "args", "reduction", "options", "check", "loss_of", "gL", "loss", "Ctx",
     "models", "per_element", "shaped", "total", "backS", "backM", "backR", "backL")
)


def chain_kernels(
    chain: tuple[type, ...], biases: tuple[bool, ...], loss: type | None = ops.MSELoss,
    per_model: str | None = None,
) -> Kernels:
    """The kernels of a chain of ops (``ops.Linear`` or ``ops.BatchedLinear`` and the
    elementwise ops above) trained with the loss op ``loss``, made once. With ``loss=None``
    the step takes the loss from the caller: ``run(x, y, args, loss_of)``, where
    ``loss_of(output, y)`` gives the loss and dL/d(output).

    ``per_model`` ("mean" or "sum") makes a stack's step: the loss is taken per model as
    ``nn.PerModelLoss`` records it (the loss op with reduction "none" on the output and the
    target, expanded to the output's shape if it is one target for all, a reshape to
    (models, elements), a mean or sum per model) and backward starts from the sum of the
    (models,) losses: ``run(x, y, args, models, check)``, the loss the (models,) losses.

    ``biases`` says, for each Linear in order, whether it has a bias. The chain's input needs
    no gradient (it is data): an op before the first Linear needs none either, and backward
    stops at the first Linear.
    """
    key = (chain, biases, loss, per_model)
    kernels = _CACHE.get(key)
    if kernels is None:
        kernels = _CACHE[key] = _write(chain, biases, loss, per_model)
    return kernels


def _write(
    chain: tuple[type, ...], biases: tuple[bool, ...], loss: type | None,
    per_model: str | None = None,
) -> Kernels:
    for op in chain:
        if op not in LINEARS and op not in ELEMENTWISE and op not in WITH_OPTIONS:
            raise TypeError(f"chain_kernels: {op.__name__} is not an op a chain can hold")
    needs = []
    grad_flows = False  # whether the input of op i depends on a parameter
    linear = 0
    for op in chain:
        if op in LINEARS:
            needs.append((grad_flows, True, biases[linear]))
            linear += 1
            grad_flows = True
        else:
            needs.append((grad_flows,))
    title = " → ".join(op.__name__ for op in (*chain, loss) if op is not None)
    # each op's output is a name of its own (h3, g3): then the buffers (workspace.py) can
    # tell one op's intermediate from the next
    h, g = "x", "gL"
    reserved = _RESERVED | {f"{v}{i}" for v in "hg" for i in range(len(chain))}
    namespace: dict[str, Any] = {"Ctx": Ctx, "torch": torch}
    signature = ("x, y, args, loss_of" if loss is None else "x, y, args, models, check"
                 if per_model is not None else "x, y, args, reduction, options, check")
    lines = [
        f"def run({signature}):",
        f'    """{title}: each op\'s forward, the loss, each op\'s backward, last first."""',
    ]

    def write(op: type, method: str, tag: str, arguments: list[str], result: str,
              need: tuple[bool, ...]) -> None:
        fn = getattr(op, method)
        lines.append(f"    # {op.__name__}.{method} ({op.__module__})")
        try:
            body = inline(fn, tag, arguments, result, need, namespace, reserved)
        except Uninlinable:  # call the op, with a ctx of its own
            namespace[op.__name__] = op
            body = [f"ctx{tag} = Ctx({need!r})"] if method == "forward" else []
            body.append(f"{result} = {op.__name__}.{method}(ctx{tag}, {', '.join(arguments)})")
        lines.extend(f"    {line}" for line in body)

    for i, op in enumerate(chain):
        if op in LINEARS:
            arguments = [h, f"args[{i}][0]", f"args[{i}][1]"]
        elif op in WITH_OPTIONS:
            arguments = [h, *(f"args[{i}][{j}]" for j in range(OPTION_COUNT[op]))]
        else:
            arguments = [h]
        h = f"h{i}"
        write(op, "forward", f"_{i}", arguments, h, needs[i])
    if loss is None:  # a loss the caller computes, and dL/dh
        lines.append(f"    loss, gL = loss_of({h}, y)")
    elif per_model is not None:  # PerModelLoss's ops, then the sum backward starts from
        reduce = ops.Mean if per_model == "mean" else ops.Sum
        lines.append(f"    if y.dim() == {h}.dim() - 1:  # one target for every model")
        lines.append(f"        y = y.expand({h}.shape)")
        lines.append(f"    check({h}, y, 'none')")
        write(loss, "forward", "_L", [h, "y", "'none'"], "per_element", (True, False))
        write(ops.Reshape, "forward", "_R", ["per_element", "(models, -1)"], "shaped", (True,))
        write(reduce, "forward", "_M", ["shaped", "1"], "loss", (True,))
        write(ops.Sum, "forward", "_S", ["loss"], "total", (True,))
        write(ops.Sum, "backward", "_S", ["torch.ones_like(total)"], "backS", (True,))
        write(reduce, "backward", "_M", ["backS[0]"], "backM", (True,))
        write(ops.Reshape, "backward", "_R", ["backM[0]"], "backR", (True,))
        write(loss, "backward", "_L", ["backR[0]"], "backL", (True, False))
        lines.append("    gL = backL[0]")
    else:
        lines.append(f"    check({h}, y, reduction, **options)")
        # the loss's options (after x, target, reduction) by name, as the loss module passes them
        extra = list(inspect.signature(loss.forward).parameters)[4:]
        loss_arguments = [h, "y", "reduction", *(f"options[{name!r}]" for name in extra)]
        write(loss, "forward", "_L", loss_arguments, "loss", (True, False))
        # backward()'s seed dL/dL = 1, as a number: a loss's backward only multiplies by it
        write(loss, "backward", "_L", ["1.0"], "backL", (True, False))
        lines.append("    gL = backL[0]")
    k = linear
    for i in range(len(chain) - 1, -1, -1):
        op = chain[i]
        write(op, "backward", f"_{i}", [g], f"back{i}", needs[i])
        g = f"g{i}"
        if op in LINEARS:
            lines.append(f"    {g}, dw{k}, db{k} = back{i}")
            k -= 1
            if k == 0:
                break  # nothing before the first Linear needs a gradient
        else:
            lines.append(f"    ({g},) = back{i}")
    grads = [f"dw{j}, db{j}" for j in range(1, linear + 1)]
    lines.append(f"    return loss, [{', '.join(grads)}]")

    source = "\n".join(lines) + "\n"
    filename = _compile(source, namespace)
    # the loss's check and the caller's loss (TrainStep's ``_stacked_loss``) only read h and y
    buffered = workspace.with_buffers(source, "run", frozenset(("check", "loss_of")))
    namespace.update(workspace.NAMESPACE)
    _compile(buffered.keep, namespace)
    _compile(buffered.reuse, namespace)
    return Kernels(tuple(chain), loss, namespace["run"], source, filename,
                   namespace["run_keep"], namespace["run_reuse"], buffered.count, buffered.lives,
                   buffered.in_place)


def _compile(source: str, namespace: dict[str, Any]) -> str:
    """Run generated source in ``namespace``, under a file name linecache knows (so tracebacks
    and pdb show its lines); the file name."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    filename = f"<minidl.fast kernels {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own source, above
    return filename
