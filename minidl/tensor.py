"""Tensor and the autograd machinery: a dynamic graph of Function nodes, walked in reverse.

A :class:`Tensor` wraps a ``torch.Tensor`` (``.data``) and, when it was made by an operation on
tensors that need gradients, points at the :class:`Node` that made it. ``backward()`` sorts the
nodes reachable from the output topologically and walks them in reverse, calling each op's
``backward`` formula (see ``functional.py``) and accumulating ``.grad`` on the leaves.

torch is only our array library here: no torch tensor we create ever has ``requires_grad``.
"""

from __future__ import annotations

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
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "GraphFreedError",
]


class GraphFreedError(RuntimeError):
    """Raised when backward walks a graph whose saved tensors were already freed."""


_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether operations record a graph in this thread (False inside ``no_grad()``)."""
    return getattr(_state, "enabled", True)


@contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    previous = is_grad_enabled()
    _state.enabled = enabled
    try:
        yield
    finally:
        _state.enabled = previous


def no_grad() -> Any:
    """Context manager (and decorator) that stops recording the graph, like ``torch.no_grad``."""
    return _grad_mode(False)


def enable_grad() -> Any:
    """Context manager that turns graph recording back on inside ``no_grad()``."""
    return _grad_mode(True)


class Node:
    """One recorded operation: what made a tensor, what it needs for its backward.

    It doubles as the ``ctx`` of the op's forward and backward: ``ctx.save(...)`` keeps tensors
    for backward, ``ctx.needs_input_grad[i]`` says whether input ``i`` wants a gradient, and any
    other attribute set in forward (a slope, a shape) is there in backward.
    """

    __slots__ = ("fn", "inputs", "needs_input_grad", "saved", "grad", "freed", "__dict__")

    def __init__(self, fn: type[Function], inputs: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.inputs = inputs  # the Tensor inputs that need a gradient, None elsewhere
        self.needs_input_grad = needs_input_grad
        self.saved: tuple = ()
        self.grad: torch.Tensor | None = None  # gradient flowing into this node's output
        self.freed = False

    def save(self, *tensors: Any) -> None:
        """Keep tensors (or anything) for the backward formula."""
        self.saved = tensors

    def __repr__(self) -> str:
        return f"<{self.fn.__name__}Backward>"


class _NoGradCtx:
    """The ctx handed to forward when no gradient is needed: saving is a no-op."""

    __slots__ = ("needs_input_grad", "__dict__")

    def __init__(self, n: int):
        self.needs_input_grad = (False,) * n

    def save(self, *tensors: Any) -> None:
        pass


class Function:
    """An operation with its forward and backward formula side by side.

    Subclasses define two static methods on plain torch tensors::

        forward(ctx, *inputs, **options) -> torch.Tensor
        backward(ctx, grad) -> tuple of gradients, one per input (None where not needed)

    and are called through ``apply``, which unwraps Tensors, records a Node when any input needs
    a gradient and wraps the result.
    """

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the op on Tensors, torch tensors or numbers and record it for backward."""
        raw = []
        inputs = []
        needs = []
        any_needs = False
        recording = getattr(_state, "enabled", True)
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                if recording and a.requires_grad:
                    inputs.append(a)
                    needs.append(True)
                    any_needs = True
                    continue
            else:
                raw.append(a)
            inputs.append(None)
            needs.append(False)
        if not any_needs:
            return Tensor(cls.forward(_NoGradCtx(len(args)), *raw, **kwargs))
        node = Node(cls, tuple(inputs), tuple(needs))
        out = Tensor(cls.forward(node, *raw, **kwargs))
        out.requires_grad = True
        out._node = node
        return out


def _as_torch(value: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach() if value.requires_grad else value
    if isinstance(value, Tensor):
        return value.data
    return torch.as_tensor(value, dtype=dtype if dtype is not None else torch.get_default_dtype())


class Tensor:
    """A node of minidl's graph: a torch tensor plus what autograd needs.

    ``data`` is the torch tensor, ``grad`` a torch tensor (or None) filled by ``backward()``,
    ``requires_grad`` whether gradients flow to it. Numbers, lists and torch tensors mix freely
    with Tensors in arithmetic.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "__weakref__")
    __array_priority__ = 1000  # so numpy scalars defer to our operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: torch.dtype | None = None):
        if isinstance(data, Tensor):
            data = data.data
        if not isinstance(data, torch.Tensor):
            data = torch.as_tensor(
                data, dtype=dtype if dtype is not None else torch.get_default_dtype()
            )
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
        self._node: Node | None = None

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
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        """The recorded op that made this tensor, or None for a leaf."""
        return self._node

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
        if self._node is not None:
            return f"Tensor({body}, grad_fn={self._node!r})"
        if self.requires_grad:
            return f"Tensor({body}, requires_grad=True)"
        return f"Tensor({body})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    # -- autograd --------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires one.

        ``grad`` is d(something)/d(self); it may be omitted only for a single-element tensor
        (then it is 1). Gradients accumulate into ``.grad`` of the leaves. The graph's saved
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
            grad = _as_torch(grad, self.data.dtype)
            if grad.shape != self.data.shape:
                raise RuntimeError(
                    f"backward(grad): grad has shape {tuple(grad.shape)} but the tensor has "
                    f"shape {tuple(self.data.shape)}"
                )
        root = self._node
        if root is None:  # a leaf: its gradient is the given one
            _accumulate_leaf(self, grad)
            return
        order = _topological_order(root)
        root.grad = grad
        for node in order:
            g = node.grad
            node.grad = None
            if g is None:
                continue
            if node.freed:
                raise GraphFreedError(
                    "backward() through a graph that was already freed: a previous backward() "
                    "released its saved tensors. Call backward(retain_graph=True) the first "
                    "time if you need to go through the graph twice."
                )
            grads = node.fn.backward(node, g)
            for inp, ig in zip(node.inputs, grads, strict=False):
                if inp is None or ig is None:
                    continue
                parent = inp._node
                if parent is None:
                    _accumulate_leaf(inp, ig)
                elif parent.grad is None:
                    parent.grad = ig
                else:
                    parent.grad = parent.grad + ig
            if not retain_graph:
                node.saved = ()
                node.freed = True

    # -- operators (defined in functional.py, bound below) ---------------------------------
    def __hash__(self) -> int:
        return id(self)


def _accumulate_leaf(leaf: Tensor, g: torch.Tensor) -> None:
    if g.shape != leaf.data.shape:  # defensive: broadcasting must already be reduced
        g = g.sum_to_size(leaf.data.shape)
    if leaf.grad is None:
        # a gradient tensor may be shared by several consumers (add passes it through), so
        # we never accumulate into it in place; we add out of place the second time
        leaf.grad = g
    else:
        leaf.grad = leaf.grad + g


def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from root, each after every node that consumes its output."""
    order: list[Node] = []
    visited: set[Node] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)  # all of its inputs' nodes are already in order
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for inp in node.inputs:
            if inp is not None:
                parent = inp._node
                if parent is not None and parent not in visited:
                    stack.append((parent, False))
    order.reverse()
    return order


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight: requires_grad by default, registered."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
