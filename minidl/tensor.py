"""Tensor and autograd: every operation records a Node; ``backward()`` walks them in reverse.

This file is the whole autograd story, in reading order:

1. :class:`Tensor` wraps a ``torch.Tensor`` (``.data``) with ``.grad`` and ``.requires_grad``.
   torch is only our array library: no torch tensor we make ever has torch's requires_grad.
2. An operation is a :class:`Function`: ``forward(ctx, ...)`` computes the value on torch
   tensors, ``backward(ctx, g)`` turns dL/d(output) into dL/d(input) for each input. The ops
   themselves live in ``minidl/ops/``, one file per kind.
3. ``Function.apply`` runs forward and, when an input needs a gradient, records a :class:`Node`:
   the op, its inputs and what forward saved. The result's ``grad_fn`` is that node.
4. ``Tensor.backward()`` sorts the nodes reachable from the result so that each comes before the
   nodes that made its inputs, then walks them in that order, calling each op's backward and
   adding the gradients up; a leaf (a Parameter, an input) collects its sum in ``.grad``.

Tensor's Python operators (``a + b``, ``a @ b``, ``a[i]`` ...) are methods of Tensor that call
the functional interface (``minidl/functional.py``), which calls the ops.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = [
    "Tensor",
    "Parameter",
    "Function",
    "Node",
    "graph_of",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "GraphFreedError",
    "ShapeError",
]


class GraphFreedError(RuntimeError):
    """Raised when backward walks a graph whose saved tensors were already freed."""


class ShapeError(ValueError):
    """An input whose shape a layer or op cannot take; names the layer and both shapes."""

    def __init__(self, message: str, layer: str | None = None):
        super().__init__(message)
        self.message = message
        self.layer = layer

    def __str__(self) -> str:
        return f"layer {self.layer}: {self.message}" if self.layer else self.message


# -- recording on or off ---------------------------------------------------------------------


class _GradMode(threading.local):
    """Whether this thread records graphs; each thread starts recording."""

    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations record a graph in this thread (False inside ``no_grad()``)."""
    return _grad_mode.enabled


@contextmanager
def _recording(enabled: bool) -> Iterator[None]:
    previous = _grad_mode.enabled
    _grad_mode.enabled = enabled
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def no_grad() -> Any:
    """Context manager (and decorator) that stops recording the graph, like ``torch.no_grad``."""
    return _recording(False)


def enable_grad() -> Any:
    """Context manager that turns graph recording back on inside ``no_grad()``."""
    return _recording(True)


# -- the graph -------------------------------------------------------------------------------


class Node:
    """One recorded operation: the op, where its inputs came from, what its backward needs.

    It is also the ``ctx`` that the op's forward and backward share: ``ctx.save(...)`` keeps
    tensors in ``saved``, ``ctx.needs_input_grad[i]`` says whether input ``i`` wants a
    gradient, and any other attribute forward sets (a slope, an input's shape) is there in
    backward; ``fn``, ``inputs``, ``saved``, ``shape``, ``dtype``, ``name`` and ``parents`` are
    the node's own.

    ``inputs`` has one entry per argument of the op: the Node that made it, the leaf Tensor
    itself (a Parameter, an input with ``requires_grad``), or None where no gradient goes.
    ``shape`` and ``dtype`` are the output's. ``name`` is the op's class name ("Linear").
    """

    # the node's own fields; other attributes an op sets go to the instance's __dict__
    __slots__ = (
        "fn", "inputs", "needs_input_grad", "saved", "shape", "dtype", "__dict__", "__weakref__"
    )

    def __init__(self, fn: type[Function], inputs: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.saved: tuple | None = ()
        self.shape: tuple[int, ...] = ()
        self.dtype: torch.dtype | None = None

    def save(self, *tensors: Any) -> None:
        """Keep tensors (or anything) for the backward formula."""
        self.saved = tensors

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def parents(self) -> list[Node]:
        """The nodes that made this node's inputs (leaves have none)."""
        return [i for i in self.inputs if isinstance(i, Node)]

    def __repr__(self) -> str:
        return f"<{self.name}Backward shape={self.shape}>"


class Function:
    """An operation with its forward and backward formula side by side.

    Subclasses define two static methods on plain torch tensors::

        forward(ctx, *inputs, **options) -> torch.Tensor
        backward(ctx, g) -> tuple of gradients, one per input (None where not needed)

    and their docstring opens with the maths, ``forward;  backward`` (see ``formula``). They are
    called through ``apply``, which unwraps Tensors, records a Node when an input needs a
    gradient and wraps the result.
    """

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the op on Tensors, torch tensors or numbers and record it for backward."""
        recording = _grad_mode.enabled
        raw, inputs, needs = [], [], []
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                if recording and a.requires_grad:
                    inputs.append(a.grad_fn or a)  # where its gradient goes: a node, or a leaf
                    needs.append(True)
                    continue
            else:
                raw.append(_torch_value(a))
            inputs.append(None)
            needs.append(False)
        node = Node(cls, tuple(inputs), tuple(needs))
        data = cls.forward(node, *raw, **kwargs)
        if not any(needs):
            return Tensor(data)
        node.shape, node.dtype = tuple(data.shape), data.dtype
        return Tensor(data, requires_grad=True, grad_fn=node)

    @classmethod
    def formula(cls) -> tuple[str, str]:
        """The op's forward and backward formulas as text, read from its docstring.

        An op's docstring opens with ``forward;  backward`` (``"y = max(0, x);  dx = g where
        x > 0, else 0."``), possibly over several lines up to the first blank line: that one
        paragraph is the only place the maths is written, for readers and for the app alike.
        """
        doc = inspect.getdoc(cls) or ""
        paragraph = " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())
        forward, _, backward = paragraph.partition(";")
        return forward.strip(), backward.strip().rstrip(".")


def _torch_value(value: Any) -> Any:
    """What a forward formula receives for an argument: a Tensor's data, a torch tensor cut
    from torch's own autograd, anything else as it is (numbers, shapes, options)."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, torch.Tensor) and value.requires_grad:
        return value.detach()
    return value


def graph_of(t: Tensor) -> list[Node]:
    """The nodes recorded for ``t``, in the order ``t.backward()`` walks them (t's own first).

    >>> [node.name for node in graph_of(loss)]      # doctest: +SKIP
    ['MSELoss', 'Sigmoid', 'Linear', 'ReLU', 'Linear']
    """
    return [] if t.grad_fn is None else _topological_order(t.grad_fn)


def _topological_order(root: Node) -> list[Node]:
    """Every node reachable from root, each before every node that made one of its inputs.

    A depth-first search lists each node after the nodes of its inputs (post-order); reversed,
    that puts every node before its inputs' nodes: the order in which gradients can flow. With
    a stack instead of recursion, so a graph deeper than Python's recursion limit is walked too.
    """
    order: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node.inputs:
            if isinstance(parent, Node) and id(parent) not in visited:
                stack.append((parent, False))
    order.reverse()
    return order


# -- Tensor ----------------------------------------------------------------------------------


class Tensor:
    """A torch tensor plus what autograd needs: ``grad``, ``requires_grad``, ``grad_fn``.

    ``data`` is the torch tensor, ``grad`` a torch tensor (or None) filled by ``backward()``,
    ``grad_fn`` the Node of the op that made this tensor (None for a leaf). Numbers, lists and
    torch tensors mix freely with Tensors in arithmetic.
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "__weakref__")
    __array_priority__ = 1000  # so numpy scalars defer to our operators

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: torch.dtype | None = None,
        *,
        grad_fn: Node | None = None,
    ):
        if isinstance(data, Tensor):
            data = data.data
        if not isinstance(data, torch.Tensor):
            data = torch.as_tensor(data, dtype=dtype or torch.get_default_dtype())
        elif dtype is not None and data.dtype != dtype:
            data = data.to(dtype)
        if data.requires_grad:
            data = data.detach()
        if requires_grad and not (data.is_floating_point() or data.is_complex()):
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {data.dtype}"
            )
        self.data: torch.Tensor = data
        self.grad: torch.Tensor | None = None
        self.requires_grad: bool = requires_grad
        self.grad_fn: Node | None = grad_fn

    # -- information ------------------------------------------------------------------------
    @property
    def shape(self) -> torch.Size:
        return self.data.shape

    @property
    def dtype(self) -> torch.dtype:
        return self.data.dtype

    @property
    def device(self) -> torch.device:
        return self.data.device

    @property
    def ndim(self) -> int:
        return self.data.dim()

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (parameters, inputs)."""
        return self.grad_fn is None

    def size(self, dim: int | None = None) -> Any:
        return self.data.size() if dim is None else self.data.size(dim)

    def dim(self) -> int:
        return self.data.dim()

    def numel(self) -> int:
        return self.data.numel()

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def numpy(self) -> Any:
        return self.data.numpy()

    def detach(self) -> Tensor:
        """A new leaf Tensor sharing data, cut from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not self.data.is_floating_point():
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def __repr__(self) -> str:
        body = repr(self.data)[len("tensor(") : -1]
        if self.grad_fn is not None:
            return f"Tensor({body}, grad_fn={self.grad_fn!r})"
        if self.requires_grad:
            return f"Tensor({body}, requires_grad=True)"
        return f"Tensor({body})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __hash__(self) -> int:
        return id(self)

    # -- autograd --------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires one.

        ``grad`` is d(something)/d(self); it may be omitted only for a single-element tensor
        (then it is 1). Gradients accumulate into ``.grad`` of the leaves. Each node's saved
        tensors are freed afterwards unless ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran inside no_grad())"
            )
        if grad is None:
            if self.data.numel() != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a single-element output, but this "
                    f"tensor has shape {tuple(self.data.shape)}; pass backward(grad) with a "
                    f"gradient of that shape, or reduce it first (e.g. .sum() or .mean())"
                )
            grad = torch.ones_like(self.data)
        else:
            grad = _torch_value(grad)
            grad = torch.as_tensor(grad, dtype=self.data.dtype)  # as torch: of self's dtype
            if grad.shape != self.data.shape:
                raise RuntimeError(
                    f"backward(grad): grad has shape {tuple(grad.shape)} but the tensor has "
                    f"shape {tuple(self.data.shape)}"
                )
        if self.grad_fn is None:  # a leaf: its gradient is the given one
            _accumulate(self, grad)
            return
        # the gradient flowing into each node's output, summed over the paths that reach it
        grads: dict[Node, torch.Tensor] = {self.grad_fn: grad}
        for node in _topological_order(self.grad_fn):
            g = grads.pop(node, None)
            if g is None:  # no path from the output carried a gradient here
                continue
            if node.saved is None:
                raise GraphFreedError(
                    "backward() through a graph that was already freed: a previous backward() "
                    "released its saved tensors. Call backward(retain_graph=True) the first "
                    "time if you need to go through the graph twice."
                )
            input_grads = node.fn.backward(node, g)
            if not retain_graph and node.saved:
                node.saved = None  # freed: a second backward through this node can't run
            for source, ig in zip(node.inputs, input_grads):  # noqa: B905 - may be shorter
                if source is None or ig is None:
                    continue
                if isinstance(source, Node):
                    if ig.dtype != source.dtype:  # a promoting op: back to the input's dtype
                        ig = ig.to(source.dtype)
                    grads[source] = grads[source] + ig if source in grads else ig
                else:
                    _accumulate(source, ig)

    # -- Python operators: each one op of the functional interface -------------------------
    def __add__(self, other: Any) -> Tensor:
        return F.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return F.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return F.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return F.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return F.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return F.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return F.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return F.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return F.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return F.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return F.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return F.matmul(other, self)

    def __neg__(self) -> Tensor:
        return F.neg(self)

    def __getitem__(self, index: Any) -> Tensor:
        return F.index(self, index)

    # comparisons give plain Tensors: nothing to differentiate
    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self.data < _torch_value(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self.data <= _torch_value(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self.data > _torch_value(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self.data >= _torch_value(other))

    # -- methods with torch's names --------------------------------------------------------
    def add(self, other: Any) -> Tensor:
        return F.add(self, other)

    def sub(self, other: Any) -> Tensor:
        return F.sub(self, other)

    def mul(self, other: Any) -> Tensor:
        return F.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return F.div(self, other)

    def neg(self) -> Tensor:
        return F.neg(self)

    def pow(self, exponent: Any) -> Tensor:
        return F.pow(self, exponent)

    def matmul(self, other: Any) -> Tensor:
        return F.matmul(self, other)

    def sum(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return F.sum(self, dim, keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return F.mean(self, dim, keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return F.amax(self, dim, keepdim)

    def reshape(self, *shape: Any) -> Tensor:
        return F.reshape(self, *shape)

    view = reshape

    def flatten(self, start_dim: int = 0) -> Tensor:
        shape = self.data.shape
        return F.reshape(self, (*shape[:start_dim], -1) if len(shape) else (1,))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return F.transpose(self, dim0, dim1)

    def t(self) -> Tensor:
        return F.transpose(self, 0, 1)

    @property
    def T(self) -> Tensor:  # noqa: N802 - torch's name
        if self.data.dim() == 2:
            return F.transpose(self, 0, 1)
        return F.permute(self, *reversed(range(self.data.dim())))

    def permute(self, *dims: int) -> Tensor:
        return F.permute(self, *dims)

    def exp(self) -> Tensor:
        return F.exp(self)

    def log(self) -> Tensor:
        return F.log(self)

    def sqrt(self) -> Tensor:
        return F.sqrt(self)

    def abs(self) -> Tensor:
        return F.abs(self)

    def relu(self) -> Tensor:
        return F.relu(self)

    def tanh(self) -> Tensor:
        return F.tanh(self)

    def sigmoid(self) -> Tensor:
        return F.sigmoid(self)

    def softmax(self, dim: int = -1) -> Tensor:
        return F.softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return F.log_softmax(self, dim)


def _accumulate(leaf: Tensor, g: torch.Tensor) -> None:
    """Add g to a leaf's ``.grad``, as torch does: in the leaf's dtype, summed over broadcast
    dimensions, and the first gradient copied into a tensor of the leaf's own, laid out like the
    leaf (g may be the caller's tensor, a view, a saved tensor or another leaf's gradient). A
    leaf whose requires_grad was turned off since the forward gets nothing."""
    if not leaf.requires_grad:
        return
    if g.shape != leaf.data.shape:  # defensive: the ops already sum broadcasting away
        g = g.sum_to_size(leaf.data.shape)
    if g.dtype != leaf.data.dtype:  # a promoting op (float32 * float64): the leaf's dtype
        g = g.to(leaf.data.dtype)
    if leaf.grad is None:
        if leaf.data.is_contiguous():
            leaf.grad = g.clone(memory_format=torch.contiguous_format)
        else:  # a transposed or sliced leaf: its gradient has its strides, as torch's
            leaf.grad = torch.empty_like(leaf.data).copy_(g)
    else:
        leaf.grad = leaf.grad + g


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight: requires_grad by default, registered."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


# The functional interface is written on top of Function and Tensor (above), so it is imported
# once they exist; Tensor's operators look it up when they run.
from . import functional as F  # noqa: E402
