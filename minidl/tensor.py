"""Tensor and the autograd machinery: a dynamic graph of Function nodes, walked in reverse.

A :class:`Tensor` wraps a ``torch.Tensor`` (``.data``) and, when it was made by an operation on
tensors that need gradients, points at the :class:`Node` that made it. ``backward()`` sorts the
nodes reachable from the output topologically and walks them in reverse, calling each op's
``backward`` formula (see ``functional.py``) and accumulating ``.grad`` on the leaves.

torch is only our array library here: no torch tensor we create ever has ``requires_grad``.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from operator import attrgetter
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


class _GradMode(threading.local):
    """Whether this thread records graphs; each thread starts with the class default, True.

    A class attribute rather than ``getattr(local, name, default)``: a missing attribute makes
    getattr raise and catch an AttributeError, and ``apply`` asks on every op.
    """

    enabled = True


_state = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations record a graph in this thread (False inside ``no_grad()``)."""
    return _state.enabled


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


_recording_order = itertools.count()  # Node.seq: which op ran first (next() is atomic)


class Node:
    """One recorded operation: what made a tensor, what it needs for its backward.

    It doubles as the ``ctx`` of the op's forward and backward: ``ctx.save(...)`` keeps tensors
    for backward, ``ctx.needs_input_grad[i]`` says whether input ``i`` wants a gradient, and any
    other attribute set in forward (a slope, a shape) is there in backward.
    """

    __slots__ = ("fn", "inputs", "needs_input_grad", "saved", "grad", "owned", "freed", "seq",
                 "__dict__", "__weakref__")

    def __init__(self, fn: type[Function], inputs: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.inputs = inputs  # the Tensor inputs that need a gradient, None elsewhere
        self.needs_input_grad = needs_input_grad
        self.saved: tuple = ()
        self.grad: torch.Tensor | None = None  # gradient flowing into this node's output
        # whether grad is a tensor nobody else holds, which backward may write over (set by the
        # walk: an op's owned_grads, or a sum the walk made)
        self.owned = False
        self.freed = False
        self.seq = next(_recording_order)  # see _topological_order

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
    a gradient and wraps the result. ``grad`` is a torch tensor, or the number 1.0 for an op
    that sets ``number_grad`` (see below) at the root of ``backward()``.
    """

    # True for an op whose backward gives each input a contiguous tensor of the input's shape
    # that nobody else holds (Linear's dW = gᵀ @ x, db = Σ g): backward keeps them as leaves'
    # gradients unchecked. Otherwise a gradient may be g passed through (add), a view of
    # something else (sum's expand) or not yet summed over broadcast dims: it is checked first
    fresh_grads = False

    # True for an op whose backward returns, for each input, a tensor nobody else will hold
    # (made there, or a saved tensor of its own at its last use): the op that receives it may
    # write over it instead of making another (LinearStack's activation gradient)
    owned_grads = False

    # True for an op whose backward is correct when g is the Python number 1.0 instead of a
    # tensor (its formula only multiplies or divides by g, which then broadcasts). ``backward()``
    # with no argument on such an op's single-element output passes 1.0: no seed tensor is made,
    # and a loss's ``diff * (g * 2/n)`` is one torch op instead of two
    number_grad = False

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:  # pragma: no cover
        raise NotImplementedError

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

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the op on Tensors, torch tensors or numbers and record it for backward."""
        raw = []
        inputs = []
        needs = []
        any_needs = False
        recording = _state.enabled
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                if recording and a.requires_grad:
                    inputs.append(a)
                    needs.append(True)
                    any_needs = True
                    continue
            elif isinstance(a, torch.Tensor) and a.requires_grad:
                raw.append(a.detach())  # torch's autograd must not record our computation
            else:
                raw.append(a)
            inputs.append(None)
            needs.append(False)
        if not any_needs:
            return _result(cls.forward(_NoGradCtx(len(args)), *raw, **kwargs), None)
        node = Node(cls, tuple(inputs), tuple(needs))
        return _result(cls.forward(node, *raw, **kwargs), node)


def _result(data: torch.Tensor, node: Node | None) -> Tensor:
    """Wrap an op's output: Tensor(data) minus the checks, as data is a fresh torch tensor.

    Every op of every step passes here, so it skips what ``Tensor.__init__`` must check for
    user input (conversion, dtype, detaching: apply already detached the op's torch inputs).
    """
    out = _new_tensor(Tensor)
    out.data = data
    out.grad = None
    out.requires_grad = node is not None
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
            root = self._node
            grad = 1.0 if root is not None and root.fn.number_grad else torch.ones_like(self.data)
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
        root.owned = False  # 1.0 or the caller's tensor; the node may have owned one before
        for node in order:
            g = node.grad
            if g is None:
                continue
            node.grad = None
            if node.freed:
                raise GraphFreedError(
                    "backward() through a graph that was already freed: a previous backward() "
                    "released its saved tensors. Call backward(retain_graph=True) the first "
                    "time if you need to go through the graph twice."
                )
            if not retain_graph:
                # marked before the formula runs, so that it can tell its saved tensors are at
                # their last use and write over them (MSE's diff becomes its gradient in place)
                node.freed = True
            fn = node.fn
            grads = fn.backward(node, g)
            fresh = fn.fresh_grads
            for inp, ig in zip(node.inputs, grads):  # noqa: B905 - grads may be shorter
                if inp is None or ig is None:
                    continue
                parent = inp._node
                if parent is not None:
                    if parent.grad is None:
                        parent.grad = ig
                        parent.owned = fn.owned_grads
                    else:
                        parent.grad = parent.grad + ig
                        parent.owned = True
                elif inp.grad is None and (fresh or _is_fresh(ig, g, inp)):
                    inp.grad = ig  # the leaf's first gradient, a tensor of its own: no copy
                else:
                    _accumulate_leaf(inp, ig)
            if not retain_graph:
                # free what this node kept: saved tensors, inputs and whatever else the op put
                # on ctx, so the step's intermediates die now even while the loss is still held
                node.saved = ()
                node.inputs = ()
                node.__dict__.clear()

    # -- operators (defined in functional.py, bound below) ---------------------------------
    def __hash__(self) -> int:
        return id(self)


_new_tensor = object.__new__  # a Tensor with its slots unset, for _result


def _is_fresh(ig: torch.Tensor, g: torch.Tensor, leaf: Tensor) -> bool:
    """Whether an op's gradient for ``leaf`` can be its .grad as it is: a new tensor of the op's
    own (not g passed through, nor a view), contiguous and of the leaf's shape."""
    return (
        ig is not g and ig._base is None and ig.shape == leaf.data.shape and ig.is_contiguous()
    )


def _accumulate_leaf(leaf: Tensor, g: torch.Tensor) -> None:
    if g.shape != leaf.data.shape:  # defensive: broadcasting must already be reduced
        g = g.sum_to_size(leaf.data.shape)
    if leaf.grad is None:
        # a tensor of its own, as torch gives: g may be an expanded view (sum's backward), the
        # same tensor as another input's (add passes it through) or the caller's backward(grad)
        leaf.grad = g.clone(memory_format=torch.contiguous_format)
    else:
        leaf.grad = leaf.grad + g


def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from root, each before every node that made one of its inputs.

    An op's inputs exist before the op runs, so a node recorded later can never feed one recorded
    earlier: newest first (by ``Node.seq``) is a valid order for the backward walk. PyTorch's
    engine orders its work by the same kind of sequence number. This needs only a set of the
    reachable nodes and one sort, no depth-first bookkeeping.

    A chain (every node made by at most one other node: a Sequential's fused stack and its loss)
    is already in that order as it is walked from the root; that is tried first.
    """
    chain = [root]
    node = root
    while node is not None:
        parent = None
        for inp in node.inputs:
            if inp is not None and inp._node is not None:
                if parent is not None and inp._node is not parent:
                    return _sorted_reachable(root)  # two parents: not a chain
                parent = inp._node
        if parent is not None:
            chain.append(parent)
        node = parent
    return chain


def _sorted_reachable(root: Node) -> list[Node]:
    """Every node reachable from root, newest first (see _topological_order)."""
    seen = {root}
    stack = [root]
    while stack:
        for inp in stack.pop().inputs:
            if inp is not None:
                parent = inp._node
                if parent is not None and parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
    return sorted(seen, key=_by_seq, reverse=True)


_by_seq = attrgetter("seq")


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight: requires_grad by default, registered."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
