"""TrainStep: one optimisation step (forward, loss, zero_grad, backward, step) without a graph.

For a ``Sequential`` chain of Linear, ReLU, LeakyReLU, Tanh, Sigmoid, ELU, GELU, SiLU, Softplus,
Sine, Dropout and Identity layers and one of the loss modules in ``LOSSES``, the graph an eager step
would record is known before it runs. TrainStep runs the chain's written-out kernels
(``kernels.py``: each op's own forward and backward from ``minidl/ops``, in the eager order) and the
loss op's, then the optimiser. The arithmetic is the eager step's, op for op, so the results are the
same to the bit (tests/test_fast.py); the time is less (benchmarks/RESULTS.md). ``fit`` trains with
it.

Everything else takes the eager step as written: other models, modules or losses, a loss with
``reduction="none"``, parameters that are frozen, shared or not the optimiser's, inputs that
require gradients or are not (N, features) batches of the first Linear's width and dtype (so a
wrong shape gets the eager step's ShapeError), ``no_grad()``. The chain is looked at again
whenever any module's parameters or submodules are reassigned or an optimiser takes a new group
(``nn.module._generation``).
"""

from __future__ import annotations

from operator import attrgetter, is_
from typing import Any

import torch

from .. import ops, optim
from ..nn import layers as L
from ..nn import losses
from ..nn import module as modules
from ..nn.module import Module
from ..nn.stack import PerModelLoss, Stacked, StackedLinear
from ..optim import Optimizer
from ..tensor import Tensor, is_grad_enabled
from . import workspace
from .kernels import Kernels, chain_kernels

__all__ = ["TrainStep", "chain_of", "eager_step"]

# the loss modules TrainStep knows (exactly these classes: a subclass may compute its own loss)
LOSSES = tuple(losses.LOSSES.values())
# the layers of a chain, and the op each one's forward applies
LAYER_OPS: dict[type, type] = {
    L.Linear: ops.Linear,
    L.ReLU: ops.ReLU,
    L.Tanh: ops.Tanh,
    L.Sigmoid: ops.Sigmoid,
    L.LeakyReLU: ops.LeakyReLU,
    L.ELU: ops.ELU,
    L.GELU: ops.GELU,
    L.SiLU: ops.SiLU,
    L.Softplus: ops.Softplus,
    L.Sine: ops.Sine,
    L.Dropout: ops.Dropout,
    StackedLinear: ops.BatchedLinear,
}
LINEAR_LAYERS = (L.Linear, StackedLinear)
# a stack's per-model loss takes these losses (elementwise: the same shape as the output)
PER_MODEL_LOSSES = (losses.MSELoss, losses.L1Loss, losses.BCELoss)
# losses whose check reads only the shapes, dtypes, reduction and options (not the values)
SHAPE_CHECKS = (ops.MSELoss, ops.L1Loss, ops.HuberLoss)
# workspaces a plan keeps (per chain of active Dropouts and batch shape), the oldest dropped
WORKSPACES = 4


def chain_of(model: Module) -> list[Module] | None:
    """The layers of ``model`` that apply an op, in order, if it is a chain TrainStep can run:
    a ``Sequential`` of the layers above (and Identity), whose Linear sizes follow on, or a
    stack of such chains (``nn.stack``: StackedLinear for Linear). Else None.
    """
    linear = {L.Sequential: L.Linear, Stacked: StackedLinear}.get(type(model))
    if linear is None:
        return None
    layers = []
    width = None
    for module in model:
        kind = type(module)
        if kind is L.Identity:
            continue
        if kind not in LAYER_OPS or (kind in LINEAR_LAYERS and kind is not linear):
            return None
        if kind is linear:
            if width is not None and module.in_features != width:
                return None  # the eager step raises the ShapeError
            width = module.out_features
        layers.append(module)
    if not any(type(m) is linear for m in layers):
        return None
    return layers


def _loss_op(model: Module, loss_fn: Module) -> type | None:
    """The op of the loss the fast step takes for this model, else None."""
    if type(model) is Stacked:
        fits = type(loss_fn) is PerModelLoss and loss_fn.models == model.models
        return type(loss_fn.loss).op if fits and type(loss_fn.loss) in PER_MODEL_LOSSES else None
    return type(loss_fn).op if type(loss_fn) in LOSSES else None


class TrainStep:
    """One optimisation step on a batch, as ``fit`` takes it: ``loss = step(xb, yb)``.

    The same as ``loss = loss_fn(model(xb), yb); optimizer.zero_grad(); loss.backward();
    optimizer.step()`` (for a stack, ``loss_fn`` a PerModelLoss: the (M,) losses, and
    ``loss.sum().backward()``), and afterwards every parameter's ``.grad`` holds this step's
    gradient, as after that code. The loss comes back as a Tensor; when the step ran without a
    graph
    (``step.fast``) it has none, as its backward is done.
    """

    def __init__(self, model: Module, loss_fn: Module, optimizer: Optimizer) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self._generation = -1  # nn.module._generation when _plan was made
        self._plan: _Plan | None = None

    @property
    def fast(self) -> bool:
        """Whether the model, loss and optimiser are ones the fast step can take."""
        return self._current_plan() is not None

    @property
    def source(self) -> str | None:
        """The written-out forward and backward the fast step runs now (None if it runs eagerly;
        with Dropout layers, the source of the chain with every Dropout active)."""
        plan = self._current_plan()
        return None if plan is None else plan.kernels(plan.dropouts_all_on()).source

    def __call__(self, x: Any, y: Any) -> Tensor:
        plan = self._current_plan()
        if plan is not None and plan.accepts(x, y):
            return plan.step(x, y)
        return eager_step(self.model, self.loss_fn, self.optimizer, x, y)

    def epoch(self, x: Any, y: Any, batch_size: int) -> list[torch.Tensor] | None:
        """The steps of one pass over (x, y) in order, ``batch_size`` rows a step (the last
        step takes the rest), with nothing run between them: each step's loss, as torch
        tensors. What ``fit`` runs when no callback looks at every batch. None, with no step
        taken, for a stack or if the fast step does not take these batches (then step them
        one by one).

        The batches are slices of x and y, so what ``accepts`` checks (type, dtype, width,
        gradients) is checked once for them all.
        """
        plan = self._current_plan()
        if plan is None or plan.models is not None or not plan.accepts(x, y):
            return None  # (a stack's batches are not rows of x: fit_stacked steps them)
        return plan.epoch(x, y, batch_size)

    def _current_plan(self) -> _Plan | None:
        if self._generation != modules._generation:
            self._generation = modules._generation
            self._plan = _Plan.make(self.model, self.loss_fn, self.optimizer)
        return self._plan


def eager_step(model: Module, loss_fn: Any, optimizer: Optimizer, x: Any, y: Any) -> Tensor:
    """The training step as a reader writes it: forward, loss, zero_grad, backward, step.

    A stack's loss is its M models' losses: their sum is what backward starts from, and each
    model's gradient is its own.
    """
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    (loss.sum() if isinstance(model, Stacked) else loss).backward()
    optimizer.step()
    return loss


_requires_grad = attrgetter("requires_grad")


class _Plan:
    """The fast step of one model, loss and optimiser (while none of them is rebuilt)."""

    @classmethod
    def make(cls, model: Module, loss_fn: Module, optimizer: Optimizer) -> _Plan | None:
        layers = chain_of(model)
        loss_op = _loss_op(model, loss_fn)
        if layers is None or loss_op is None:
            return None
        linears = [m for m in layers if type(m) in LINEAR_LAYERS]
        params = [p for m in linears for p in (m.weight, m.bias) if p is not None]
        # each parameter once, and the optimiser's: then its one gradient becomes its .grad
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        ids = {id(p) for p in params}
        if len(ids) < len(params) or not ids <= held:
            return None
        return cls(layers, linears, params, loss_fn, loss_op, optimizer)

    def __init__(self, layers, linears, params, loss_fn, loss_op, optimizer) -> None:
        self.layers = layers
        self.linears = linears
        self.params = params
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.loss_op = loss_op
        self.models = loss_fn.models if type(loss_fn) is PerModelLoss else None
        self.first = linears[0]
        # the loss's check, run once per set of shapes when it reads nothing but them
        self._check = loss_op.check
        if loss_op in SHAPE_CHECKS:
            self._check = _ShapeCheck(loss_op.check)
        self.dropouts = [m for m in layers if type(m) is L.Dropout]
        self._kernels: dict[tuple, tuple[Kernels, list]] = {}
        # the intermediates go into buffers kept between steps, one workspace per chain and
        # batch shape (the last batch of an epoch may be smaller): for a stack they are big
        # (M times a model's), and fresh ones cost page faults; for one model, torch's
        # bookkeeping of a fresh tensor is ~2 % of the seed step
        self.buffered = True
        self._workspaces: dict[tuple, list] = {}
        # the update: the optimiser's own rule on the lists the step holds, when its one group
        # is exactly these parameters and its step() is Optimizer's (every .grad is then set
        # by the step, so zero_grad() would clear nothing that stays cleared); else
        # zero_grad() and step() as the eager step calls them. Checked at every step: a
        # group's "params" may be replaced or changed in place
        self._plain_step = type(optimizer).step is Optimizer.step
        self._validated: tuple = ()  # the (lr, weight_decay, l1) last validated
        # SGD's own rule (not a subclass's): its per-model update can run on the lists
        self._plain_sgd = type(optimizer) is optim.SGD
        self._columns: dict[tuple, tuple] = {}

    def _direct_group(self) -> dict | None:
        """The optimiser's one group if it holds exactly these parameters, in order."""
        groups = self.optimizer.param_groups
        if not self._plain_step or len(groups) != 1:
            return None
        held = groups[0]["params"]
        if len(held) != len(self.params) or not all(map(is_, held, self.params)):
            return None
        return groups[0]

    def dropouts_all_on(self) -> tuple[bool, ...]:
        return (True,) * len(self.dropouts)

    def kernels(self, active: tuple[bool, ...]) -> Kernels:
        return self._chain(active)[0]

    def _chain(self, active: tuple[bool, ...]) -> tuple[Kernels, list]:
        """The kernels for this pattern of active Dropouts (an inactive one is no op), and
        what ``_operands`` reads for each of their ops."""
        # a stack's loss is taken per model, reduced as its PerModelLoss says now
        per_model = None if self.models is None else self.loss_fn.reduction
        found = self._kernels.get((active, per_model))
        if found is None:
            on = dict(zip(map(id, self.dropouts), active, strict=True))
            layers = [m for m in self.layers if on.get(id(m), True)]
            chain = tuple(LAYER_OPS[type(m)] for m in layers)
            biases = tuple(m.bias is not None for m in self.linears)
            kernels = chain_kernels(chain, biases, self.loss_op, per_model)
            found = self._kernels[(active, per_model)] = (kernels, [_reader(m) for m in layers])
        return found

    def accepts(self, x: Any, y: Any) -> bool:
        """Whether the fast step can take this batch; the eager step takes the others."""
        # a stack takes (N, in) shared by its models or (M, N, in), one batch each
        own = self.models is not None and x.dim() == 3 and x.shape[0] == self.models
        return (
            type(x) is torch.Tensor
            and type(y) is torch.Tensor
            and not x.requires_grad
            and not y.requires_grad
            and is_grad_enabled()
            and (x.dim() == 2 or own)
            and x.shape[-1] == self.first.in_features
            and x.dtype == self.params[0].data.dtype  # the first Linear's weight
            and (not y.is_floating_point() or y.dtype == x.dtype)  # else eagerly: casts
            and self.loss_fn.reduction != "none"
            and False not in map(_requires_grad, self.params)  # a frozen one: eagerly
            and (not self.dropouts or all(0 <= m.p < 1 for m in self.dropouts))  # else
            # F.dropout's error, eagerly
        )

    def _operands(self, readers: list) -> list:
        """What each op of the chain takes after its input, read now: a parameter's data may
        have been replaced (load_state_dict, .double(), p.data = ...), an option changed.
        ``readers`` (from ``_chain``) holds, per op, its Linear's (weight, bias) Parameters, the
        module whose options it reads and their names, or None."""
        args = []
        for kind, a, b in readers:
            if kind is _LINEAR:
                args.append((a.data, None if b is None else b.data))
            elif kind is _OPTION:
                args.append(tuple(getattr(a, name) for name in b))
            else:
                args.append(())
        return args

    def step(self, x: torch.Tensor, y: torch.Tensor) -> Tensor:
        return Tensor(self.run(x, y))

    def run(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One step on an accepted batch: the loss (a torch tensor); the gradients are set."""
        kernels, head = self._prepare()
        ws = self._workspace(kernels, head, x, y)
        loss, grads = self._forward_backward(kernels, x, y, head, ws)
        group = self._direct_group()
        if group is None:
            self.optimizer.zero_grad()
            # as backward() does: a gradient nobody cleared (a parameter the optimiser no
            # longer holds) accumulates
            for p, dg in zip(self.params, grads, strict=True):
                p.grad = dg if p.grad is None else p.grad + dg
            self.optimizer.step()
        else:
            self._update(group, grads, self._plain_lr(group), [p.data for p in self.params],
                         validate=True)
        return loss

    def epoch(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
        """``run`` on each batch_size rows of x and y in turn (TrainStep.epoch): what every step
        reads (operands, options, the optimiser's group and values) is read once, as nothing
        runs between the steps that could change it."""
        group = self._direct_group()
        if group is None:
            return [self.run(x[i:i + batch_size], y[i:i + batch_size])
                    for i in range(0, x.shape[0], batch_size)]
        kernels, head = self._prepare()
        lr = self._plain_lr(group)
        data = [p.data for p in self.params]
        losses = []
        shape = ws = None
        for i in range(0, x.shape[0], batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            if xb.shape != shape:  # the first batch, and a smaller last one
                shape, ws = xb.shape, self._workspace(kernels, head, xb, yb)
            loss, grads = self._forward_backward(kernels, xb, yb, head, ws)
            if ws is None:
                ws = self._workspace(kernels, head, xb, yb)  # made by that first step
            self._update(group, grads, lr, data, validate=not losses)  # once an epoch
            losses.append(loss)
        return losses

    def _prepare(self) -> tuple[Kernels, tuple]:
        """The kernels for the Dropouts active now, and the arguments they take after the
        batch: the operands and options read now (a parameter's data may have been replaced,
        an option changed) and the loss."""
        dropouts = self.dropouts
        active = tuple(m.training and m.p > 0 for m in dropouts) if dropouts else ()
        kernels, readers = self._chain(active)
        if self.models is None:
            options = self.loss_fn.options()  # e.g. Huber's delta may change
            return kernels, (self._operands(readers), self.loss_fn.reduction, options,
                             self._check)
        return kernels, (self._operands(readers), self.models, self._check)

    def _workspace(
        self, kernels: Kernels, head: tuple, x: torch.Tensor, y: torch.Tensor
    ) -> list | None:
        """The buffers of this chain for batches of this shape, None before its first step."""
        return self._workspaces.get(_workspace_key(kernels, head, x, y))

    def _forward_backward(
        self, kernels: Kernels, x: torch.Tensor, y: torch.Tensor, head: tuple, ws: list | None
    ) -> tuple[torch.Tensor, list]:
        """The kernels on one batch, their intermediates in the workspace ``ws`` (made and
        shared out at the first step of a shape, ``ws`` None): the loss and the gradients of
        the parameters, in order."""
        if not self.buffered:
            loss, grads = kernels.run(x, y, *head)
        elif ws is not None:
            loss, grads = kernels.reuse(x, y, *head, ws)
        else:
            if len(self._workspaces) >= WORKSPACES:
                del self._workspaces[next(iter(self._workspaces))]  # the oldest
            ws = self._workspaces[_workspace_key(kernels, head, x, y)] = (
                [None] * kernels.buffers)
            loss, grads = kernels.keep(x, y, *head, ws)
            workspace.share(ws, kernels.lives, kernels.in_place)  # fewer buffers, in cache
        if len(grads) != len(self.params):  # a Linear without bias: its db is None
            grads = [dg for dg in grads if dg is not None]
        return loss, grads

    def _update(self, group: dict, grads: list, lr: float | None, data: list,
                validate: bool = False) -> None:
        """Set each parameter's gradient and take the optimiser's step (raising where its
        step() would, with ``validate``): plain SGD with the number ``lr`` (``_plain_lr``) as
        SGD's one foreach call, else ``_sgd_per_model`` or the optimiser's own ``_apply``."""
        params = self.params
        for p, dg in zip(params, grads, strict=True):
            p.grad = dg
        if validate:
            self._validate(group)
        if lr is not None:
            torch._foreach_add_(data, grads, alpha=-lr)
        elif not (self._plain_sgd and self._sgd_per_model(group, grads)):
            self.optimizer._apply(group, params, data, grads)

    def _plain_lr(self, group: dict) -> float | None:
        """The learning rate when the update is plain SGD's p ← p - lr·g (``SGD._update``
        without momentum, weight decay or L1, one foreach call), else None."""
        lr = group["lr"]
        if (self._plain_sgd and (type(lr) is float or type(lr) is int) and group["momentum"] == 0
                and group["weight_decay"] == 0 and group.get("l1", 0) == 0):
            return lr
        return None

    def _sgd_per_model(self, group: dict, grads: list) -> bool:
        """SGD's per-model rule (``SGD._update_per_model``) without momentum or L1, for every
        parameter in one ``torch._foreach_`` call per term (on the CPU a loop in C++ of the same
        in-place ops): g ← g + wd·p, then p ← p - lr·g with each model's lr as a (M, 1, …)
        column, the columns made once per set of values. False (nothing done) for what it does
        not take: a learning rate that is a number or a tensor, momentum, L1."""
        lr = group["lr"]
        if type(lr) not in (list, tuple):
            return False
        weight_decay = group["weight_decay"]
        if not (optim._all_zero(group["momentum"]) and optim._all_zero(group.get("l1", 0))):
            return False
        key = (tuple(lr), tuple(weight_decay) if type(weight_decay) in (list, tuple)
               else weight_decay)
        columns = self._columns.get(key)
        if columns is None:
            columns = self._make_columns(*key)
            if columns is None:
                return False  # the optimiser raises the error
            self._columns[key] = columns
        lrs, decays = columns
        data = [p.data for p in self.params]
        if decays is not None:  # as torch, no 0·p added when every model's decay is 0
            decayed = (torch._foreach_mul(data, decays) if type(decays) is not list
                       else torch._foreach_mul(decays, data))  # wd·p, a number or columns
            grads = torch._foreach_add(grads, decayed)
        torch._foreach_addcmul_(data, grads, lrs, value=-1)
        return True

    def _make_columns(self, lr: tuple, weight_decay: Any) -> tuple | None:
        """The (M, 1, …) columns of each model's lr and weight decay for every parameter, as
        ``optim._for_models`` makes them (None if a count is not the models')."""
        lrs, decays = [], []
        for p in self.params:
            d = p.data
            if d.dim() == 0 or len(lr) != d.shape[0]:
                return None
            lrs.append(optim._model_column(lr, d.dtype, d.dim()))
            if isinstance(weight_decay, tuple):
                if len(weight_decay) != d.shape[0]:
                    return None
                decays.append(optim._model_column(weight_decay, d.dtype, d.dim()))
        if optim._all_zero(weight_decay):
            return lrs, None
        return lrs, (decays if isinstance(weight_decay, tuple) else weight_decay)

    def _validate(self, group: dict) -> None:
        """Raise where the optimiser's step() would; the check is run again only when the
        group's learning rate, weight decay or l1 is a different value (a number is immutable)."""
        lr, weight_decay, l1 = group["lr"], group.get("weight_decay", 0), group.get("l1", 0)
        if type(lr) is float and (lr, weight_decay, l1) == self._validated:
            return  # the numbers checked last time
        # a list (one value per model) is compared as a tuple of its values: it can change
        key = tuple(tuple(v) if type(v) is list else v for v in (lr, weight_decay, l1))
        if key != self._validated:
            self.optimizer._validate(group)
            if all(isinstance(v, (int, float, tuple)) for v in key):  # not a tensor
                self._validated = key


_LINEAR, _OPTION, _NONE = "linear", "option", "none"
# the options each op takes after its input, in order, as the layer names them
_OPTIONS = {
    L.LeakyReLU: ("negative_slope",),
    L.Dropout: ("p",),
    L.ELU: ("alpha",),
    L.Softplus: ("beta", "threshold"),
}


def _reader(m: Module) -> tuple[str, Any, Any]:
    """What ``_Plan._operands`` reads at each step for layer m's op (see there)."""
    kind = type(m)
    if kind in LINEAR_LAYERS:
        return (_LINEAR, m._parameters["weight"], m._parameters["bias"])
    if kind in _OPTIONS:
        return (_OPTION, m, _OPTIONS[kind])
    return (_NONE, None, None)


def _workspace_key(kernels: Kernels, head: tuple, x: torch.Tensor, y: torch.Tensor) -> tuple:
    """What the buffers' shapes depend on: the chain, the batch and the weights' shapes (a
    parameter's data may be replaced by one of another shape; a buffer is never resized)."""
    weights = tuple(pair[0].shape for pair in head[0] if len(pair) == 2 and pair[0] is not None
                    and type(pair[0]) is torch.Tensor)
    return (kernels, x.shape, x.dtype, y.shape, y.dtype, weights)


class _ShapeCheck:
    """A loss check that reads only shapes, dtypes and options, run once for each of them."""

    def __init__(self, check: Any) -> None:
        self.check = check
        self.passed: set[tuple] = set()

    def __call__(self, h: torch.Tensor, y: torch.Tensor, reduction: str, **options: Any) -> None:
        key = (h.shape, y.shape, h.dtype, y.dtype, reduction, *options.items())
        if key not in self.passed:
            self.check(h, y, reduction, **options)  # raises, or passes for these shapes
            self.passed.add(key)
