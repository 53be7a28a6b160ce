"""TrainStep: one optimisation step, run without recording a graph for the networks it knows.

An eager training step (``model(x)``, the loss, ``zero_grad``, ``backward``, ``step``) records a
graph only to walk it straight back. For a ``Sequential`` whose plan is a chain of single ops
(Linear stacks with their activations, ReLU, LeakyReLU, Tanh, Sigmoid, Dropout, Identity) and one
of the four loss modules, that graph is known before the step runs. TrainStep runs the same
ops' forward and backward formulas (functional.py) in the order backward would walk them, on
torch tensors, with at most one context object per op: no Module call, Tensor, Node or graph
walk per step. The arithmetic and its order are the eager step's, so the results are the same
to the bit (tests/test_step.py), in less time (benchmarks/RESULTS.md). ``fit`` trains with it.

Everything else takes the eager step, as written: other models, modules or losses, a loss with
``reduction="none"``, parameters that are frozen, shared between layers or missing from the
optimiser, inputs that require gradients or are not 2-D (N, features) batches of the network's
width and dtype (so a wrong shape gets the eager step's error, a ShapeError naming the layer and
both shapes), ``no_grad()``. The compiled chain is rebuilt when any module's parameters or
submodules are reassigned or an optimiser takes a new group (``nn.module._generation``).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter, is_
from typing import Any

import torch

from . import functional as F
from .nn import layers as L
from .nn import losses
from .nn import module as modules
from .nn.module import Module
from .optim import Optimizer
from .tensor import Tensor, _result, _state

__all__ = ["TrainStep"]

# the loss modules the compiled step knows, and the op each one's forward records
_LOSS_OPS: dict[type, type[F.Function]] = {
    losses.MSELoss: F.MSELoss,
    losses.L1Loss: F.L1Loss,
    losses.BCELoss: F.BCELoss,
    losses.CrossEntropyLoss: F.CrossEntropyLoss,
}
# modules that are one op of one input and no options (exactly these classes: a subclass may have
# a forward of its own)
_PLAIN_OPS: dict[type, type[F.Function]] = {L.ReLU: F.ReLU, L.Tanh: F.Tanh, L.Sigmoid: F.Sigmoid}

# the kinds of op in a compiled chain
_STACK, _PLAIN, _LEAKY, _DROPOUT = range(4)


class _Ctx:
    """The ctx one op's forward and backward share (what a Node is to the eager step)."""

    __slots__ = ("needs_input_grad", "saved", "owned", "freed", "__dict__")

    def __init__(self, needs: tuple[bool, ...]):
        self.needs_input_grad = needs
        self.saved: tuple = ()
        self.owned = False  # set before backward: whether g is the op's alone to write over
        self.freed = True  # backward runs once: saved tensors are at their last use

    def save(self, *tensors: Any) -> None:
        self.saved = tensors


_requires_grad = attrgetter("requires_grad")
_data = attrgetter("data")
_LOSS_NEEDS = (True, False)  # the network's output needs a gradient, the target none

Compiled = Callable[[Any, Any], "Tensor | None"]


class TrainStep:
    """One optimisation step on a batch, as fit takes it: forward, loss, zero_grad, backward, step.

    ``step = TrainStep(model, loss_fn, optimizer)``, then ``loss = step(xb, yb)`` for each batch.
    Afterwards every parameter's ``.grad`` holds this step's gradient, as after the eager step.
    The loss comes back as a Tensor; when the step ran compiled it has no graph (its backward is
    done). See the module's docstring for when the step runs compiled and when eagerly.
    """

    def __init__(self, model: Module, loss_fn: Module, optimizer: Optimizer) -> None:
        self._model = model
        self._loss_fn = loss_fn
        self._optimizer = optimizer
        self._compiled: Compiled | None = None
        self._generation = -1  # modules._generation when _compiled was made

    model = property(lambda self: self._model, doc="The model the step trains.")
    loss_fn = property(lambda self: self._loss_fn, doc="The loss the step minimises.")
    optimizer = property(lambda self: self._optimizer, doc="The optimiser that takes the step.")

    def __call__(self, x: Any, y: Any) -> Tensor:
        if self._generation != modules._generation:
            self._generation = modules._generation
            self._compiled = _compile(self._model, self._loss_fn, self._optimizer)
        compiled = self._compiled
        if compiled is not None:
            loss = compiled(x, y)
            if loss is not None:
                return loss
        loss = self._loss_fn(self._model(x), y)
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()
        return loss

    @property
    def compiled(self) -> bool:
        """Whether the model, loss and optimiser are ones the compiled step takes."""
        if self._generation != modules._generation:
            self._generation = modules._generation
            self._compiled = _compile(self._model, self._loss_fn, self._optimizer)
        return self._compiled is not None


def _compile(model: Module, loss_fn: Module, optimizer: Optimizer) -> Compiled | None:
    """The step for this model, loss and optimiser as a function of (x, y), or None.

    The function returns the loss, or None, having run nothing, when the eager step must take
    this batch instead.
    """
    if type(model) is not L.Sequential or type(loss_fn) not in _LOSS_OPS:
        return None
    # the plan as a chain of ops: (kind, op, plan step or module, its parameters)
    ops: list[tuple[int, type[F.Function], Any, list]] = []
    for _, step in model._plan():
        kind = type(step)
        if kind is L._LinearStackStep:
            ops.append((_STACK, F.LinearStack, step, step.operands()[0]))
        elif kind in _PLAIN_OPS:
            ops.append((_PLAIN, _PLAIN_OPS[kind], step, []))
        elif kind is L.LeakyReLU:
            ops.append((_LEAKY, F.LeakyReLU, step, []))
        elif kind is L.Dropout:
            ops.append((_DROPOUT, F.Dropout, step, []))
        elif kind is not L.Identity:
            return None
    stacks = [op for op in ops if op[0] is _STACK]
    params = [p for op in stacks for p in op[3] if p is not None]
    # every parameter appears once and is the optimiser's: then backward's first (and only)
    # gradient for each becomes its .grad
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    ids = {id(p) for p in params}
    if not params or len(ids) < len(params) or not ids <= held:
        return None
    # the update: the optimiser's own rule on the lists the step holds, when its one group is
    # exactly these parameters and step() is Optimizer's (no zero_grad then: every gradient
    # it would clear is set anew); otherwise zero_grad() and step() as the eager step calls them
    direct = (
        ids == held
        and len(optimizer.param_groups) == 1
        and type(optimizer).step is Optimizer.step
        and type(optimizer)._update is not Optimizer._update
    )
    first = stacks[0][2].layers[0][0]  # the first Linear: what x must fit
    in_features, first_weight = first.in_features, first.weight
    loss_op = _LOSS_OPS[type(loss_fn)]
    check, loss_forward, loss_backward = loss_op.check, loss_op.forward, loss_op.backward
    loss_owned = loss_op.owned_grads
    run_stack, stack_backward = F.LinearStack.run, F.LinearStack.backward
    grad_mode = _state
    # per op: its ctx's needs_input_grad when its input does not / does need a gradient (an
    # absent bias needs none); for a stack also its trainable parameters, whether it has every
    # bias, and its operands (the parameters' data, None for an absent bias, and the weights'
    # views that forward multiplies by), kept while every parameter keeps its data tensor
    chain = []
    for kind, fn, item, stack in ops:
        flags = tuple(p is not None for p in stack)
        trainable = tuple(p for p in stack if p is not None)
        cache = [[None] * len(trainable), [], []]  # the trainable ones' data, operands, views
        needs = ((False, *flags), (True, *flags))
        chain.append((kind, fn, item, stack, needs, trainable, None not in stack, cache))

    def accepts(x: Any, y: Any) -> bool:
        """Whether the compiled step can take this batch; the eager step takes the others."""
        return (
            type(x) is torch.Tensor
            and type(y) is torch.Tensor
            and not x.requires_grad
            and not y.requires_grad
            and grad_mode.enabled
            and x.dim() == 2
            and x.shape[1] == in_features
            and x.dtype == first_weight.data.dtype
            and loss_fn.reduction != "none"
        )

    def group_now() -> dict[str, Any] | None:
        """The optimiser's one group, its hyperparameters checked (for a direct update)."""
        groups = optimizer.param_groups
        if len(groups) != 1:
            return None
        optimizer._validate(groups[0])
        return groups[0]

    def stack_operands(item: Any, stack: list, trainable: tuple, cache: list) -> list | None:
        """A stack's cache, brought up to date; None if a parameter is frozen (the eager step
        leaves it be)."""
        if False in map(_requires_grad, trainable):
            return None
        data = list(map(_data, trainable))
        if not all(map(is_, data, cache[0])):  # new data: load, .double(), p.data = ...
            cache[:] = data, [None if p is None else p.data for p in stack], item.operands()[1]
        return cache

    if len(chain) == 1:  # a plain MLP: the stack alone, the common case, written out
        _, _, item, stack, needs, trainable, every_bias, cache = chain[0]
        needs, trainable_list = needs[0], list(trainable)
        # LinearStack's own forward and backward, written out for these activations: called
        # here without the op's wrapper (x is a 2-D batch, the views are at hand, no ctx)
        forward, backward = F.stack_kernels(item.activations, needs)

        def mlp(x: Any, y: Any) -> Tensor | None:
            if not accepts(x, y) or stack_operands(item, stack, trainable, cache) is None:
                return None
            group = group_now() if direct else None
            if direct and group is None:
                return None
            reduction = loss_fn.reduction
            ys = forward(x, cache[1], cache[2])
            h = ys[-1]
            check(h, y, reduction)
            loss_ctx = _Ctx(_LOSS_NEEDS)
            loss = loss_forward(loss_ctx, h, y, reduction)
            if not direct:
                optimizer.zero_grad()
            g = loss_backward(loss_ctx, 1.0)[0]
            grads = backward(g, ys, cache[1], needs, loss_owned)
            grads = grads[1:] if every_bias else [g for g in grads[1:] if g is not None]
            for p, g in zip(trainable, grads, strict=True):
                p.grad = g  # a fresh tensor (LinearStack.fresh_grads), as eager's
            if direct:
                optimizer._update(group, trainable_list, cache[0], grads)
            else:
                optimizer.step()
            return _result(loss, None)

        return mlp

    def compiled(x: Any, y: Any) -> Tensor | None:
        if not accepts(x, y):
            return None
        group = group_now() if direct else None
        if direct and group is None:
            return None
        # what each op reads now, all of it checked before any op runs (a Dropout draw can't
        # be undone)
        operands: list = []
        for kind, _, item, stack, _, trainable, _, cache in chain:
            if kind is _STACK:
                operand = stack_operands(item, stack, trainable, cache)
                if operand is None:
                    return None
                operands.append(operand)
            elif kind is _DROPOUT:
                if not 0 <= item.p < 1:
                    return None  # the eager step raises F.dropout's error
                operands.append((item.p, item.training))
            elif kind is _LEAKY:
                operands.append(item.negative_slope)
            else:
                operands.append(None)

        # forward, keeping each op's ctx from the first that needs a gradient on
        done: list = []  # (op, ctx, operands) in forward order
        requires = False  # whether h depends on a parameter
        h = x
        for op, operand in zip(chain, operands, strict=True):
            kind = op[0]
            if kind is _STACK:
                ctx = _Ctx(op[4][requires])
                h = run_stack(ctx, h, operand[1], op[2].activations, operand[2])
                requires = True
            elif kind is _DROPOUT:
                p, training = operand
                if not training or p == 0:
                    continue  # the identity: no op
                ctx = _Ctx((requires,))
                h = F.Dropout.forward(ctx, h, p, generator=None)
            elif kind is _LEAKY:
                ctx = _Ctx((requires,))
                h = F.LeakyReLU.forward(ctx, h, negative_slope=operand)
            else:
                ctx = _Ctx((requires,))
                h = op[1].forward(ctx, h)
            if requires:
                done.append((op, ctx, operand))
        reduction = loss_fn.reduction
        check(h, y, reduction)
        loss_ctx = _Ctx(_LOSS_NEEDS)
        loss = loss_forward(loss_ctx, h, y, reduction)

        # backward: the loss's unit seed is the number 1.0 (every loss op sets number_grad),
        # then the ops newest first, each g owned as the op after it declares (owned_grads)
        if not direct:
            optimizer.zero_grad()
        g = loss_backward(loss_ctx, 1.0)[0]
        owned = loss_owned
        updated, data, grads = [], [], []  # for the update
        for op, ctx, operand in reversed(done):
            ctx.owned = owned
            if op[0] is _STACK:
                found = stack_backward(ctx, g)
                # fresh tensors (LinearStack.fresh_grads) become the .grad, as eager's do
                stack_grads = found[1:] if op[6] else [pg for pg in found[1:] if pg is not None]
                for p, pg in zip(op[5], stack_grads, strict=True):
                    p.grad = pg
                updated += op[5]
                data += operand[0]
                grads += stack_grads
                g = found[0]
                owned = F.LinearStack.owned_grads
            else:
                fn = op[1]
                g = fn.backward(ctx, g)[0]
                owned = fn.owned_grads
            if g is None:
                break
        if direct:
            optimizer._update(group, updated, data, grads)
        else:
            optimizer.step()
        return _result(loss, None)

    return compiled
