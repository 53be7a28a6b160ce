"""Every primitive operation of minidl, its forward and backward formula side by side.

Each op is a :class:`~minidl.tensor.Function`: ``forward(ctx, ...)`` computes the value on torch
tensors and saves what the derivative needs; ``backward(ctx, grad)`` receives dL/d(output) and
returns dL/d(input) for each input (``None`` where ``ctx.needs_input_grad`` says nobody asked).
The public functions at the bottom (``add``, ``relu``, ``cross_entropy`` ...) are what models call.

Notation in the comments: ``g`` is the incoming gradient dL/dy, ``y`` the op's output.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.functional import fold  # col2im: adds columns back onto their windows

from .tensor import Function, Node, Tensor, _result, _state

# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def unbroadcast(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a gradient back to ``shape`` over the dimensions broadcasting stretched."""
    if grad.shape == shape:
        return grad
    return grad.sum_to_size(shape) if len(shape) else grad.sum()


def _shape_of(x: Any) -> torch.Size | None:
    return x.shape if isinstance(x, torch.Tensor) else None


# ----------------------------------------------------------------------------------------------
# elementwise arithmetic (broadcasting)
# ----------------------------------------------------------------------------------------------


class Add(Function):
    """y = a + b;  da = g, db = g (summed over broadcast dims)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape_of(a), _shape_of(b))
        return a + b

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if na else None, unbroadcast(g, sb) if nb else None)


class Sub(Function):
    """y = a - b;  da = g, db = -g."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape_of(a), _shape_of(b))
        return a - b

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if na else None, unbroadcast(-g, sb) if nb else None)


class Mul(Function):
    """y = a * b;  da = g * b, db = g * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (
            unbroadcast(g * b, a.shape) if na else None,
            unbroadcast(g * a, b.shape) if nb else None,
        )


class Div(Function):
    """y = a / b;  da = g / b, db = -g * a / b² = -g * y / b."""

    @staticmethod
    def forward(ctx, a, b):
        y = a / b
        ctx.save(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        return (
            unbroadcast(g / b, a.shape) if na else None,
            unbroadcast(-g * y / b, b.shape) if nb else None,
        )


class Neg(Function):
    """y = -x;  dx = -g."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return (-g,)


class Pow(Function):
    """y = a ** b;  da = g * b * a^(b-1),  db = g * y * log(a)  (where a > 0)."""

    @staticmethod
    def forward(ctx, a, b):
        y = torch.pow(a, b)
        ctx.save(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            # torch's convention: x ** 0 has derivative 0 everywhere, even at x = 0 (0 * 0⁻¹)
            da = (b * torch.pow(a, b - 1)).masked_fill(torch.as_tensor(b == 0), 0)
            ga = unbroadcast(g * da, a.shape)
        if nb:
            # a may be a number (2 ** x); where the base is 0 and the exponent >= 0, torch
            # takes the exponent's gradient as 0 rather than 0 * log 0
            db = (y * torch.log(torch.as_tensor(a, dtype=y.dtype))).masked_fill(
                torch.as_tensor((a == 0) & (b >= 0)), 0
            )
            gb = unbroadcast(g * db, b.shape)
        return ga, gb


# ----------------------------------------------------------------------------------------------
# matrix products
# ----------------------------------------------------------------------------------------------


class MatMul(Function):
    """y = a @ b;  da = g @ bᵀ, db = aᵀ @ g  (vectors are treated as 1-row/1-column matrices)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return torch.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        a2 = a.unsqueeze(0) if a.dim() == 1 else a  # (k,) -> (1, k)
        b2 = b.unsqueeze(-1) if b.dim() == 1 else b  # (k,) -> (k, 1)
        g2 = g
        if b.dim() == 1:  # (..., n) -> (..., n, 1); first, so a 0-d g (vector·vector) works
            g2 = g2.unsqueeze(-1)
        if a.dim() == 1:
            g2 = g2.unsqueeze(-2)
        ga = gb = None
        if na:
            ga = torch.matmul(g2, b2.transpose(-1, -2))
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if nb:
            gb = torch.matmul(a2.transpose(-1, -2), g2)
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x @ Wᵀ + b;  dx = g @ W,  dW = gᵀ @ x,  db = Σ_rows g.

    W is (out, in) as in torch; x is (N, in) or any (*, in). Forward is one addmm.
    """

    fresh_grads = True  # every gradient is a new mm or sum result (or a reshape of one)

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save(x, weight)
        if x.dim() == 2:
            if bias is None:
                return torch.mm(x, weight.t())
            return torch.addmm(bias, x, weight.t())
        y = torch.matmul(x, weight.t())
        return y if bias is None else y + bias

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        if x.dim() != 2:
            x = x.reshape(-1, x.shape[-1])
            g = g.reshape(-1, g.shape[-1])
            gx = torch.mm(g, weight).reshape(ctx.saved[0].shape) if nx else None
        else:
            gx = torch.mm(g, weight) if nx else None
        gw = torch.mm(g.t(), x) if nw else None
        gb = g.sum(0) if nb else None
        return gx, gw, gb


class _Context:
    """A bare ctx, to run an op's formulas inside another op (LinearActivation)."""

    def __init__(self, needs_input_grad: tuple[bool, ...] = (True,)):
        self.needs_input_grad = needs_input_grad
        self.saved: tuple = ()

    def save(self, *tensors):
        self.saved = tensors


class LinearActivation(Function):
    """y = act(x @ Wᵀ + b) as one node: a Linear and the activation after it, fused.

    ``activation`` is an elementwise op saving only its output (ReLU, Tanh, Sigmoid). Nothing new
    to derive: forward is Linear's then the activation's, backward the activation's then
    Linear's, each with its own ctx: one node, one Tensor, one backward call instead of two.
    LinearStack below is the same for a whole MLP body, written as one loop.
    """

    fresh_grads = True  # Linear's gradients

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, activation):
        z = Linear.forward(ctx, x, weight, bias)
        ctx.activation, ctx.inner = activation, _Context()
        return activation.forward(ctx.inner, z)

    @staticmethod
    def backward(ctx, g):
        (dz,) = ctx.activation.backward(ctx.inner, g)
        return Linear.backward(ctx, dz)


class LinearStack(Function):
    """The fused multilayer perceptron op: the same formulas as Linear + activation, unrolled.

    y = act_k(... act_1(x @ W_1ᵀ + b_1) ... @ W_kᵀ + b_k), as one node. Per layer, forward:
    z = x @ Wᵀ + b (one addmm), then y = act(z) written over z (a fresh tensor of our own);
    backward, last layer first: g ← act'(z)·g from y alone (the activation's own
    ``grad_from_output``), dW = gᵀ @ x, db = Σ_rows g, and dx = g @ W becomes the g of the
    layer before (not computed for the first layer when x needs no gradient). One ctx for the
    whole stack, each layer's input and output in one list; ``Sequential`` records a run of
    Linear(+activation) layers this way. Inputs: x, then the weight and bias (or None) of every
    layer; ``activations``: ReLU, Tanh, Sigmoid or None (no activation), one per layer.
    ``weights_t``, optional: each weight's ``.t()``, from a caller that keeps those views
    between steps (Sequential does; a view follows the in-place optimiser updates).

    The layers are not walked by a Python loop: for each tuple of activations, ``stack_kernels``
    writes the forward and backward out layer by layer once (Python source, compiled and kept),
    as one would by hand. A loop's indexing and branching cost about as much as the small
    layers' arithmetic (the seed network's step: ~8 µs of ~100).
    """

    fresh_grads = True  # every gradient is a new mm or sum result (or a reshape of one)

    @staticmethod
    def forward(ctx, x, *params, activations, weights_t=None):
        return LinearStack.run(ctx, x, params, activations, weights_t)

    @staticmethod
    def run(ctx, x, params, activations, weights_t):
        """forward with the parameters as one sequence (what ``linear_stack`` calls)."""
        shape = x.shape
        if x.dim() != 2:  # (*, in): the layers see it as (N, in) rows
            x = x.reshape(-1, shape[-1])
        if weights_t is None:
            weights_t = [w.t() for w in params[::2]]
        kernels = _STACK_KERNELS.get((activations, None)) or stack_kernels(activations)
        ys = kernels[0](x, params, weights_t)  # each layer's input, then the last one's output
        ctx.save(ys, params, kernels[1], shape)
        x = ys[-1]
        return x if len(shape) == 2 else x.reshape(*shape[:-1], x.shape[-1])

    @staticmethod
    def backward(ctx, g):
        ys, params, backward, shape = ctx.saved
        if g.dim() != 2:
            g = g.reshape(-1, g.shape[-1])
        # whether g is ours alone (made here, or given owned), which the last layer's
        # activation may then write over
        grads = backward(g, ys, params, ctx.needs_input_grad, ctx.owned)
        if grads[0] is not None and len(shape) != 2:
            grads[0] = grads[0].reshape(shape)
        return grads


_STACK_KERNELS: dict[tuple, tuple[Any, Any]] = {}


def stack_kernels(activations: tuple, needs: tuple[bool, ...] | None = None) -> tuple[Any, Any]:
    """LinearStack's forward and backward for this tuple of activations, written out per layer.

    forward(x, params, weights_t) -> [x, y_1, ..., y_k] (each layer's input, then the output);
    backward(g, ys, params, needs, own) -> gradients for x, W_1, b_1, ..., W_k, b_k (None where
    ``needs`` says no). Given ``needs`` here, backward is written for it alone (it then ignores
    its own ``needs`` argument): no test of it at every step. Made once per (activations, needs)
    and kept in _STACK_KERNELS.
    """
    kernels = _STACK_KERNELS.get((activations, needs))
    if kernels is not None:
        return kernels
    n = len(activations)
    names: dict[str, Any] = {"mm": torch.mm, "addmm": torch.addmm}
    forward = ["def forward(x, params, weights_t):", "    y0 = x"]
    for i, activation in enumerate(activations):
        forward += [
            f"    b = params[{2 * i + 1}]",
            f"    y{i + 1} = mm(y{i}, weights_t[{i}]) if b is None else "
            f"addmm(b, y{i}, weights_t[{i}])",
        ]
        if activation is not None:
            names[f"act{i}"] = activation.inplace
            names[f"grad{i}"] = activation.grad_from_output
            names[f"grad{i}_"] = activation.grad_from_output_
            forward.append(f"    y{i + 1} = act{i}(y{i + 1})")
    forward.append(f"    return [{', '.join(f'y{i}' for i in range(n + 1))}]")

    def gradient(k: int, expression: str, indent: str = "    ") -> list[str]:
        """grads[k] = expression, if input k needs a gradient (tested at each call, or now)."""
        if needs is None:
            return [f"{indent}if needs[{k}]:", f"{indent}    grads[{k}] = {expression}"]
        return [f"{indent}grads[{k}] = {expression}"] if needs[k] else []

    backward = [
        "def backward(g, ys, params, needs, own):",
        f"    {', '.join(f'y{i}' for i in range(n + 1))}, = ys",
        f"    grads = [None] * {2 * n + 1}",
    ]
    for i in range(n - 1, -1, -1):
        if activations[i] is not None:
            if i == n - 1:  # g as given: written over only if it is ours alone
                backward.append(
                    f"    g = grad{i}_(g, y{i + 1}) if own else grad{i}(g, y{i + 1})"
                )
            else:  # g is g @ W of the layer after, made here: written over
                backward.append(f"    g = grad{i}_(g, y{i + 1})")
        backward += gradient(2 * i + 1, f"mm(g.mT, y{i})")  # .mT: the view .t() is, cheaper
        backward += gradient(2 * i + 2, "g.sum(0)")
        if i > 0:
            backward.append(f"    g = mm(g, params[{2 * i}])")
    backward += [*gradient(0, "mm(g, params[0])"), "    return grads"]

    source = "\n".join(forward + [""] + backward) + "\n"
    exec(compile(source, f"<LinearStack kernels {n} layers>", "exec"), names)  # noqa: S102
    kernels = _STACK_KERNELS[activations, needs] = (names["forward"], names["backward"])
    return kernels


# ----------------------------------------------------------------------------------------------
# reductions and shape
# ----------------------------------------------------------------------------------------------


def _reduce_all(y: torch.Tensor, x: torch.Tensor, keepdim: bool) -> torch.Tensor:
    """A full reduction's result, with every dimension kept as size 1 if ``keepdim``."""
    return y.reshape([1] * x.dim()) if keepdim else y


def _keep_reduced_dims(g: torch.Tensor, shape: torch.Size, dim: Any, keepdim: bool):
    """Re-insert the dimensions a reduction removed, so g broadcasts back to ``shape``."""
    if dim is None:
        return g.reshape([1] * len(shape))
    if keepdim:
        return g
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in sorted(d % len(shape) for d in dims):
        g = g.unsqueeze(d)
    return g


class Sum(Function):
    """y = Σ x over ``dim``;  dx = g broadcast back to x's shape."""

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        return _reduce_all(x.sum(), x, keepdim) if dim is None else x.sum(dim, keepdim=keepdim)

    @staticmethod
    def backward(ctx, g):
        g = _keep_reduced_dims(g, ctx.shape, ctx.dim, ctx.keepdim)
        return (g.expand(ctx.shape),)


class Mean(Function):
    """y = (1/n) Σ x over ``dim``;  dx = g / n broadcast back."""

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        y = _reduce_all(x.mean(), x, keepdim) if dim is None else x.mean(dim, keepdim=keepdim)
        ctx.count = x.numel() // max(y.numel(), 1) if x.numel() else 1
        return y

    @staticmethod
    def backward(ctx, g):
        g = _keep_reduced_dims(g, ctx.shape, ctx.dim, ctx.keepdim)
        return ((g / ctx.count).expand(ctx.shape),)


class Max(Function):
    """y = max x over ``dim``;  dx = g at the arg-max (split evenly between ties)."""

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        y = _reduce_all(x.amax(), x, keepdim) if dim is None else x.amax(dim, keepdim=keepdim)
        ctx.save(x, y)
        ctx.dim, ctx.keepdim = dim, keepdim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        y = _keep_reduced_dims(y, x.shape, ctx.dim, ctx.keepdim)
        g = _keep_reduced_dims(g, x.shape, ctx.dim, ctx.keepdim)
        mask = (x == y).to(g.dtype)
        count = mask.sum() if ctx.dim is None else mask.sum(ctx.dim, keepdim=True)
        return (g * mask / count,)


class Reshape(Function):
    """y = x viewed as ``shape``;  dx = g reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.shape),)


class Transpose(Function):
    """y = x with dims d0 and d1 swapped;  dx = g with them swapped back."""

    @staticmethod
    def forward(ctx, x, dim0, dim1):
        ctx.dims = (dim0, dim1)
        return x.transpose(dim0, dim1)

    @staticmethod
    def backward(ctx, g):
        return (g.transpose(*ctx.dims),)


class Permute(Function):
    """y = x with its dims reordered;  dx = g with the inverse order."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(sorted(range(len(dims)), key=lambda i: dims[i]))
        return x.permute(*dims)

    @staticmethod
    def backward(ctx, g):
        return (g.permute(*ctx.inverse),)


class Index(Function):
    """y = x[index];  dx = zeros with g scattered (added) back where it was taken from.

    Works for slices, integers, masks and integer arrays; repeated indices accumulate.
    """

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx, g):
        gx = g.new_zeros(ctx.shape)
        positions = torch.arange(gx.numel(), device=g.device).reshape(ctx.shape)[ctx.index]
        gx.view(-1).index_add_(0, positions.reshape(-1), g.reshape(-1))
        return (gx,)


class Cat(Function):
    """y = concatenation of the inputs along ``dim``;  each input gets its slice of g."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim, ctx.sizes = dim, [x.shape[dim] for x in xs]
        return torch.cat(xs, dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *torch.split(g, ctx.sizes, ctx.dim))


# ----------------------------------------------------------------------------------------------
# elementwise functions
# ----------------------------------------------------------------------------------------------


class Exp(Function):
    """y = eˣ;  dx = g * y."""

    @staticmethod
    def forward(ctx, x):
        y = torch.exp(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g * y,)


class Log(Function):
    """y = ln x;  dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return torch.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (g / x,)


class Sqrt(Function):
    """y = √x;  dx = g / (2y)."""

    @staticmethod
    def forward(ctx, x):
        y = torch.sqrt(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g / (2 * y),)


class Abs(Function):
    """y = |x|;  dx = g * sign(x)  (0 at x = 0, as torch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return torch.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (g * torch.sign(x),)


class ReLU(Function):
    """y = max(0, x);  dx = g where x > 0, else 0."""

    inplace = torch.relu_  # y written over x: LinearStack's, on an addmm result of its own

    @staticmethod
    def forward(ctx, x):
        y = torch.relu(x)  # max(0, x); faster than clamp_min(x, 0)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (ReLU.grad_from_output(g, y),)

    @staticmethod
    def grad_from_output(g, y):
        """dx from g and the output y alone (all that backward and LinearStack keep)."""
        # y >= 0, so sign(y) is the step: 1 where x > 0, 0 elsewhere. Multiplying by it is one
        # float op, where g * (y > 0) is a comparison and a bool-to-float promotion (6x slower)
        return g * torch.sign(y)

    @staticmethod
    def grad_from_output_(g, y):
        """The same, written over g: only for a g the caller made itself and nobody else holds
        (LinearStack's g @ W), never for a gradient that came from outside."""
        return g.mul_(torch.sign(y))


class LeakyReLU(Function):
    """y = x if x > 0 else slope·x;  dx = g if x > 0 else slope·g."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        positive = x > 0
        ctx.save(positive)
        ctx.slope = negative_slope
        return torch.where(positive, x, x * negative_slope)

    @staticmethod
    def backward(ctx, g):
        (positive,) = ctx.saved
        return (torch.where(positive, g, g * ctx.slope),)


class Tanh(Function):
    """y = tanh x;  dx = g * (1 - y²)."""

    inplace = torch.tanh_

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (Tanh.grad_from_output(g, y),)

    @staticmethod
    def grad_from_output(g, y):
        """dx from g and the output y alone."""
        # g (1 - y²) written g - g·y·y: tensor-tensor ops only (a Python number on the left
        # of a tensor takes torch's slower path)
        return g - g * y * y

    @staticmethod
    def grad_from_output_(g, y):
        """The same, written over a g of the caller's own (see ReLU.grad_from_output_)."""
        return g.sub_(g * y * y)


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ), computed without overflow for large |x|;  dx = g * y * (1 - y)."""

    inplace = torch.sigmoid_

    @staticmethod
    def forward(ctx, x):
        # torch.sigmoid evaluates e^{-|x|}, never e^{+large}: no overflow, no 0/0
        y = torch.sigmoid(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (Sigmoid.grad_from_output(g, y),)

    @staticmethod
    def grad_from_output(g, y):
        """dx from g and the output y alone."""
        # y (1 - y) written y - y·y, as one addcmul (y + (-1)·y·y): no Python number on the left
        # of a tensor (torch's slower path, see Tanh), one op instead of two
        return g * torch.addcmul(y, y, y, value=-1)

    @staticmethod
    def grad_from_output_(g, y):
        """The same, written over a g of the caller's own (see ReLU.grad_from_output_)."""
        return g.mul_(torch.addcmul(y, y, y, value=-1))


class Softmax(Function):
    """y = e^(x - max) / Σ e^(x - max) along ``dim``;  dx = y * (g - Σ g·y)."""

    @staticmethod
    def forward(ctx, x, dim=-1):
        e = torch.exp(x - x.amax(dim, keepdim=True))
        y = e / e.sum(dim, keepdim=True)
        ctx.save(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (y * (g - (g * y).sum(ctx.dim, keepdim=True)),)


class LogSoftmax(Function):
    """y = x - max - log Σ e^(x - max) along ``dim``;  dx = g - softmax(x) * Σ g."""

    @staticmethod
    def forward(ctx, x, dim=-1):
        shifted = x - x.amax(dim, keepdim=True)
        y = shifted - torch.log(torch.exp(shifted).sum(dim, keepdim=True))
        ctx.save(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g - torch.exp(y) * g.sum(ctx.dim, keepdim=True),)


class Dropout(Function):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p);  dx = g * mask / (1 - p)."""

    @staticmethod
    def forward(ctx, x, p, generator=None):
        keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator)
        scale = keep / (1 - p)
        ctx.save(scale)
        return x * scale

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved
        return (g * scale,)


# ----------------------------------------------------------------------------------------------
# losses (fused: one node each)
# ----------------------------------------------------------------------------------------------


def _reduce(per_element: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_element.mean()
    if reduction == "sum":
        return per_element.sum()
    return per_element


def _reduce_grad(g: Any, local: torch.Tensor, reduction: str, n: int) -> torch.Tensor:
    """Chain the loss's reduction into the per-element derivative ``local``; g may be a number
    (the unit seed of ``backward()``, see Function.number_grad): ``g / n`` is then no torch op."""
    return local * (g / n) if reduction == "mean" else local * g


class MSELoss(Function):
    """L = reduce((x - t)²);  dx = 2 (x - t) · g  (/ n for the mean)."""

    number_grad = True  # g only scales: backward() seeds it with 1.0
    owned_grads = True  # diff·scale (or diff itself at its last use) and its negation

    @staticmethod
    def check(x: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        if reduction not in _REDUCTIONS or x.shape != target.shape:  # the usual case: 2 tests
            _check_reduction(reduction)
            _check_same_shape("MSELoss", x, target)

    @staticmethod
    def forward(ctx, x, target, reduction="mean"):
        diff = x - target
        # the reduction in saved, not as ctx.reduction: an attribute would give the node a
        # __dict__ of its own, one more allocation per step
        ctx.save(diff, reduction)
        if reduction == "none" or not diff.numel():
            return _reduce(diff * diff, reduction)  # (the mean of nothing is nan, as torch's)
        # Σ diff² as one dot product of diff with itself: one op where (diff * diff).mean() is
        # two, and ~1.2 µs where those take ~4.7 µs on a (50, 1) batch
        flat = diff.reshape(-1)
        total = torch.vdot(flat, flat)
        return total.div_(flat.numel()) if reduction == "mean" else total

    @staticmethod
    def backward(ctx, g):
        diff, reduction = ctx.saved
        # 2 and the mean's 1/n go into g (a scalar, unless reduction="none") before it meets the
        # batch: one op on diff instead of three (and with backward()'s unit seed g is the number
        # 1.0, so g * scale is Python arithmetic: a float32 diff times a number stays float32)
        scale = 2 / diff.numel() if reduction == "mean" else 2
        if ctx.freed and not isinstance(g, torch.Tensor):
            # backward()'s unit seed and the graph is being freed: diff (ours alone, made in
            # forward) is at its last use, so it becomes the gradient in place, no new tensor.
            # Only for a number g: a tensor g could broadcast diff up or promote its dtype
            gx = diff.mul_(g * scale)
        else:
            gx = diff * (g * scale)
        return gx, (-gx if ctx.needs_input_grad[1] else None)


class L1Loss(Function):
    """L = reduce(|x - t|);  dx = sign(x - t) · g  (/ n for the mean; 0 where x = t)."""

    number_grad = True  # g only scales (_reduce_grad)

    @staticmethod
    def check(x: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        _check_reduction(reduction)
        _check_same_shape("L1Loss", x, target)

    @staticmethod
    def forward(ctx, x, target, reduction="mean"):
        diff = x - target
        ctx.save(diff)
        ctx.reduction = reduction
        return _reduce(torch.abs(diff), reduction)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved
        gx = _reduce_grad(g, torch.sign(diff), ctx.reduction, diff.numel())
        return gx, (-gx if ctx.needs_input_grad[1] else None)


# torch's BCE backward clamps p(1-p) at 1e-12 as a float32, also in float64 (p at exactly 0 or 1)
_BCE_EPSILON = float(torch.tensor(1e-12, dtype=torch.float32))


class BCELoss(Function):
    """L = -reduce(t·log p + (1-t)·log(1-p)), logs clamped at -100 as torch does;
    dp = (p - t) / max(p (1 - p), 1e-12) · g  (torch's formula, finite at p = 0 or 1).
    """

    number_grad = True  # g only scales (_reduce_grad)

    @staticmethod
    def check(p: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        _check_reduction(reduction)
        _check_same_shape("BCELoss", p, target)
        if p.numel() and (bool((p < 0).any()) or bool((p > 1).any())):
            raise ValueError(
                "BCELoss: the inputs must be probabilities in [0, 1] (end the network with a "
                f"Sigmoid); got values from {p.min().item():.4g} to {p.max().item():.4g}"
            )

    @staticmethod
    def forward(ctx, p, target, reduction="mean"):
        ctx.save(p, target)
        ctx.reduction = reduction
        log_p = torch.clamp_min(torch.log(p), -100)
        log_1mp = torch.clamp_min(torch.log1p(-p), -100)
        return _reduce(-(target * log_p + (1 - target) * log_1mp), reduction)

    @staticmethod
    def backward(ctx, g):
        p, t = ctx.saved
        local = (p - t) / torch.clamp_min(p * (1 - p), _BCE_EPSILON)
        gt = None
        if ctx.needs_input_grad[1]:
            log_ratio = torch.clamp_min(torch.log1p(-p), -100) - torch.clamp_min(torch.log(p), -100)
            gt = _reduce_grad(g, log_ratio, ctx.reduction, p.numel())
        return _reduce_grad(g, local, ctx.reduction, p.numel()), gt


class CrossEntropyLoss(Function):
    """L = reduce(-log softmax(x)[target]) for class indices (or soft targets);
    dx = (softmax(x) · Σ_c t - t) · g  (/ N for the mean; Σ_c t = 1 for class indices),
    dt = -log softmax(x) · g  (soft targets).
    """

    number_grad = True  # g only scales (_reduce_grad); a number needs no unsqueeze

    @staticmethod
    def check(logits: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        _check_reduction(reduction)
        if logits.dim() != 2:
            raise ValueError(
                f"CrossEntropyLoss: expected (N, C) logits, got shape {tuple(logits.shape)}"
            )
        if target.is_floating_point():
            _check_same_shape("CrossEntropyLoss", logits, target)
            return
        if tuple(target.shape) != (logits.shape[0],):
            raise ValueError(
                f"CrossEntropyLoss: class-index targets must have shape ({logits.shape[0]},) for "
                f"logits of shape {tuple(logits.shape)}, got {tuple(target.shape)}"
            )
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[1]):
            raise ValueError(
                f"CrossEntropyLoss: class indices must be in [0, {logits.shape[1] - 1}], got "
                f"values from {int(target.min())} to {int(target.max())}"
            )

    @staticmethod
    def forward(ctx, logits, target, reduction="mean"):
        shifted = logits - logits.amax(1, keepdim=True)
        log_probs = shifted - torch.log(torch.exp(shifted).sum(1, keepdim=True))
        if target.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
            onehot = torch.zeros_like(log_probs)
            onehot.scatter_(1, target.long().unsqueeze(1), 1.0)
            if onehot.dim() > 2:  # (N, C, d1, ...) with target (N, d1, ...)
                raise ValueError("cross_entropy: only (N, C) logits are supported")
        else:
            onehot = target
        per_sample = -(onehot * log_probs).sum(1)
        ctx.save(log_probs, onehot)
        ctx.soft = onehot is target
        ctx.reduction = reduction
        return _reduce(per_sample, reduction)

    @staticmethod
    def backward(ctx, g):
        log_probs, onehot = ctx.saved
        n = log_probs.shape[0]
        if ctx.reduction == "none" and isinstance(g, torch.Tensor):  # (N,) against (N, C)
            g = g.unsqueeze(1)
        probs = torch.exp(log_probs)
        if ctx.soft:  # soft targets need not sum to 1
            probs = probs * onehot.sum(1, keepdim=True)
        gx = _reduce_grad(g, probs - onehot, ctx.reduction, n)
        gt = _reduce_grad(g, -log_probs, ctx.reduction, n) if ctx.needs_input_grad[1] else None
        return gx, gt


# ----------------------------------------------------------------------------------------------
# images: convolution, transposed convolution, nearest upsampling, pooling
#
# Images are (N, C, H, W); a kernel or window is (kh, kw). Everything here is im2col:
# ``_im2col`` copies each kh×kw window of the (padded) image into one column, so a convolution is
# one matrix product and a pooling is one reduction down the columns. torch's ``fold`` is its
# adjoint: it adds every column back onto the window it came from (overlapping windows add up),
# which is exactly what the backward formulas need. Output size per spatial dimension:
#     out = ⌊(in + 2·padding - dilation·(k - 1) - 1) / stride⌋ + 1
# ----------------------------------------------------------------------------------------------


def _embed(
    t: torch.Tensor, top: tuple[int, int], size: tuple[int, int], fill: float = 0.0
) -> torch.Tensor:
    """A (N, C, *size) canvas filled with ``fill``, with t's pixels written from ``top`` on.

    Pixels of t that would land past the canvas's bottom or right edge are left out.
    """
    canvas = t.new_full((*t.shape[:2], *size), fill)
    h, w = min(t.shape[2], size[0] - top[0]), min(t.shape[3], size[1] - top[1])
    canvas[:, :, top[0] : top[0] + h, top[1] : top[1] + w] = t[:, :, :h, :w]
    return canvas


def _crop(t: torch.Tensor, top: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """The ``size`` window of t starting at ``top`` (zeros where it runs past t's edge)."""
    if top[0] + size[0] <= t.shape[2] and top[1] + size[1] <= t.shape[3]:
        return t[:, :, top[0] : top[0] + size[0], top[1] : top[1] + size[1]]
    return _embed(t[:, :, top[0] :, top[1] :], (0, 0), size)


def _window_count(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """How many windows fit along one dimension: the output size formula above."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _im2col(
    x: torch.Tensor,
    kernel_size: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    stride: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    """Every kh×kw window of x as a column: (N, C, H, W) -> (N, C·kh·kw, Hout·Wout).

    The same as torch's ``unfold``, and faster on CPU: a strided view lays the windows out
    without copying (element (n, c, i, j, r, s) is pixel (r·stride + i·dilation,
    s·stride + j·dilation) of the padded image), then one reshape copies them into columns.
    """
    n, c, h, w = x.shape
    if padding != (0, 0):
        x = _embed(x, padding, (h + 2 * padding[0], w + 2 * padding[1]))
    else:
        x = x.contiguous()
    (kh, kw), (dh, dw), (sh, sw) = kernel_size, dilation, stride
    hout = _window_count(h, kh, sh, padding[0], dh)
    wout = _window_count(w, kw, sw, padding[1], dw)
    sn, sc, srow, scol = x.stride()
    windows = x.as_strided(
        (n, c, kh, kw, hout, wout), (sn, sc, srow * dh, scol * dw, srow * sh, scol * sw)
    )
    return windows.reshape(n, c * kh * kw, hout * wout)


class Conv2d(Function):
    """y = W ⋆ x + b by im2col:  X = im2col(x) (N, C·kh·kw, L),  y = W₂ X + b,

    with W₂ the weight (out, C, kh, kw) seen as a matrix (out, C·kh·kw) and L = Hout·Wout;
    dx = fold(W₂ᵀ g),  dW = Σₙ g Xᵀ,  db = g summed over batch and pixels.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        n, _, h, w = x.shape
        out_channels, _, kh, kw = weight.shape
        window = dict(kernel_size=(kh, kw), dilation=dilation, padding=padding, stride=stride)
        cols = _im2col(x, **window)  # (N, C·kh·kw, L): one column per output pixel
        w2 = weight.reshape(out_channels, -1)
        y = torch.matmul(w2, cols)  # (N, out, L)
        if bias is not None:
            y = y + bias[:, None]
        ctx.save(cols if ctx.needs_input_grad[1] else None, w2)
        ctx.window, ctx.image_size, ctx.weight_shape = window, (h, w), weight.shape
        hout = _window_count(h, kh, stride[0], padding[0], dilation[0])
        return y.reshape(n, out_channels, hout, -1)

    @staticmethod
    def backward(ctx, g):
        cols, w2 = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        g2 = g.reshape(g.shape[0], g.shape[1], -1)  # (N, out, L)
        gx = gw = gb = None
        if nx:  # each column's gradient W₂ᵀg goes back onto the window it was copied from
            gx = fold(torch.matmul(w2.t(), g2), ctx.image_size, **ctx.window)
        if nw:  # dW[o, k] = Σ_{n, l} g[n, o, l] · X[n, k, l]: a product per image, summed
            gw = torch.matmul(g2, cols.transpose(1, 2)).sum(0).reshape(ctx.weight_shape)
        if nb:
            gb = g.sum((0, 2, 3))
        return gx, gw, gb


class ConvTranspose2d(Function):
    """Conv2d's adjoint: every input pixel paints a weight-scaled kh×kw patch onto the output.

    cols = W₂ᵀ x (N, out·kh·kw, H·W) with W₂ the weight (in, out, kh, kw) as (in, out·kh·kw);
    y = crop(fold(cols)) + b, where fold adds the patches onto the full canvas and crop cuts
    ``padding`` off the top/left and keeps Hout = (H-1)·stride - 2·padding + dilation·(k-1)
    + output_padding + 1 rows (likewise columns);
    dx = W₂ im2col(G),  dW = Σₙ x im2col(G)ᵀ,  db = Σ g, with G = g put back on the canvas.
    """

    @staticmethod
    def forward(
        ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
        dilation=(1, 1),
    ):
        n, in_channels, h, w = x.shape
        _, out_channels, kh, kw = weight.shape
        canvas_size = (
            (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1,
            (w - 1) * stride[1] + dilation[1] * (kw - 1) + 1,
        )
        out_size = (
            canvas_size[0] - 2 * padding[0] + output_padding[0],
            canvas_size[1] - 2 * padding[1] + output_padding[1],
        )
        window = dict(kernel_size=(kh, kw), dilation=dilation, stride=stride)
        w2 = weight.reshape(in_channels, -1)
        x2 = x.reshape(n, in_channels, h * w)
        canvas = fold(torch.matmul(w2.t(), x2), canvas_size, **window)
        y = _crop(canvas, padding, out_size)
        if bias is not None:
            y = y + bias[:, None, None]
        ctx.save(x2 if ctx.needs_input_grad[1] else None, w2)
        ctx.window, ctx.canvas_size, ctx.padding = window, canvas_size, padding
        ctx.image_shape, ctx.weight_shape = x.shape, weight.shape
        return y

    @staticmethod
    def backward(ctx, g):
        x2, w2 = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        # G: the output gradient back on the canvas; each pixel's patch gradient is its window
        cols = _im2col(_embed(g, ctx.padding, ctx.canvas_size), **ctx.window)  # (N, out·kk, HW)
        gx = gw = gb = None
        if nx:
            gx = torch.matmul(w2, cols).reshape(ctx.image_shape)
        if nw:  # dW[i, k] = Σ_{n, p} x[n, i, p] · cols[n, k, p]: a product per image, summed
            gw = torch.matmul(x2, cols.transpose(1, 2)).sum(0).reshape(ctx.weight_shape)
        if nb:
            gb = g.sum((0, 2, 3))
        return gx, gw, gb


class UpsampleNearest(Function):
    """y[n, c, i, j] = x[n, c, ⌊i/s₀⌋, ⌊j/s₁⌋]: each pixel becomes an s₀×s₁ block;

    dx = g summed over each block.
    """

    @staticmethod
    def forward(ctx, x, scale_factor=(2, 2)):
        n, c, h, w = x.shape
        s0, s1 = scale_factor
        ctx.block_shape = (n, c, h, s0, w, s1)
        return x[:, :, :, None, :, None].expand(ctx.block_shape).reshape(n, c, h * s0, w * s1)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.block_shape).sum((3, 5)),)


class MaxPool2d(Function):
    """y = the maximum of each kh×kw window (padding counts as -∞);

    dx = g sent to the position of each window's maximum (overlapping windows add up).
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding=(0, 0), dilation=(1, 1)):
        n, c, h, w = x.shape
        # every channel is pooled alike, so pool N·C one-channel images
        planes = _embed(
            x.reshape(n * c, 1, h, w), padding, (h + 2 * padding[0], w + 2 * padding[1]),
            fill=float("-inf"),
        )
        window = dict(kernel_size=kernel_size, dilation=dilation, stride=stride)
        cols = _im2col(planes, **window)  # (N·C, kh·kw, L)
        y, where = cols.max(dim=1)
        ctx.save(where)
        ctx.window, ctx.cols_shape, ctx.padded_size = window, cols.shape, planes.shape[2:]
        ctx.padding, ctx.image_shape = padding, x.shape
        hout = _window_count(h, kernel_size[0], stride[0], padding[0], dilation[0])
        return y.reshape(n, c, hout, -1)

    @staticmethod
    def backward(ctx, g):
        (where,) = ctx.saved
        g2 = g.reshape(ctx.cols_shape[0], 1, ctx.cols_shape[2])
        gcols = g.new_zeros(ctx.cols_shape).scatter_(1, where[:, None], g2)
        gx = fold(gcols, ctx.padded_size, **ctx.window)
        n, c, h, w = ctx.image_shape
        return (_crop(gx, ctx.padding, (h, w)).reshape(n, c, h, w),)


class AvgPool2d(Function):
    """y = the mean of each kh×kw window (zero padding counted, torch's default);

    dx = g / (kh·kw) spread evenly over each window (overlapping windows add up).
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding=(0, 0)):
        n, c, h, w = x.shape
        window = dict(kernel_size=kernel_size, padding=padding, stride=stride)
        cols = _im2col(x.reshape(n * c, 1, h, w), **window)  # (N·C, kh·kw, L)
        ctx.window, ctx.cols_shape, ctx.image_shape = window, cols.shape, x.shape
        hout = _window_count(h, kernel_size[0], stride[0], padding[0], 1)
        return cols.mean(1).reshape(n, c, hout, -1)

    @staticmethod
    def backward(ctx, g):
        planes, area, length = ctx.cols_shape
        gcols = (g.reshape(planes, 1, length) / area).expand(ctx.cols_shape)
        n, c, h, w = ctx.image_shape
        return (fold(gcols, (h, w), **ctx.window).reshape(n, c, h, w),)


# ----------------------------------------------------------------------------------------------
# the functional interface
# ----------------------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _check_same_shape(name: str, x: Any, target: Any) -> None:
    xs, ts = _data(x).shape, _data(target).shape
    if xs != ts:
        xs, ts = tuple(xs), tuple(ts)
        raise ValueError(
            f"{name}: the output has shape {xs} but the target has shape {ts}; they must match "
            f"(a (N, 1) output needs a (N, 1) target, not (N,))"
        )


def add(a: Any, b: Any) -> Tensor:
    """a + b with broadcasting."""
    return Add.apply(a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b with broadcasting."""
    return Sub.apply(a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b with broadcasting."""
    return Mul.apply(a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b with broadcasting."""
    return Div.apply(a, b)


def neg(x: Any) -> Tensor:
    """-x."""
    return Neg.apply(x)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - torch's name
    """a ** b with broadcasting (tensor or number exponent)."""
    return Pow.apply(a, b)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with torch.matmul's rules (vectors, matrices, batches)."""
    return MatMul.apply(a, b)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weightᵀ + bias in one fused op; weight is (out_features, in_features)."""
    return Linear.apply(x, weight, bias)


def linear_activation(x: Any, weight: Any, bias: Any = None, activation: Any = ReLU) -> Tensor:
    """activation(x @ weightᵀ + bias) as one node; ``activation`` is ReLU, Tanh or Sigmoid."""
    return LinearActivation.apply(x, weight, bias, activation=activation)


def linear_stack(
    x: Any, params: list, activations: tuple, weights_t: list | None = None
) -> Tensor:
    """Linear layers (weights and biases in ``params``, in order) each followed by its activation
    op (ReLU, Tanh, Sigmoid, or None for none), as one node. ``weights_t``: optionally each
    weight's ``.t()`` (torch tensors), for a caller that keeps them between calls."""
    # Function.apply written out for this op, which Sequential records at every step of an MLP:
    # one pass over the parameters, no *args/**kwargs repacked twice (~1 µs of the seed's step).
    # Anything unusual (no grad mode, an input that is neither Tensor nor torch tensor) goes
    # through apply
    if not _state.enabled:
        return LinearStack.apply(x, *params, activations=activations, weights_t=weights_t)
    if isinstance(x, Tensor):
        xd = x.data
        inputs = [x if x.requires_grad else None]
    elif isinstance(x, torch.Tensor):
        xd = x.detach() if x.requires_grad else x
        inputs = [None]
    else:
        return LinearStack.apply(x, *params, activations=activations, weights_t=weights_t)
    raw = []  # the parameters' torch tensors
    for p in params:
        if isinstance(p, Tensor):
            raw.append(p.data)
            inputs.append(p if p.requires_grad else None)
        elif p is None or isinstance(p, torch.Tensor):
            raw.append(p if p is None or not p.requires_grad else p.detach())
            inputs.append(None)
        else:
            return LinearStack.apply(x, *params, activations=activations, weights_t=weights_t)
    needs = tuple([i is not None for i in inputs])
    if True not in needs:
        return LinearStack.apply(x, *params, activations=activations, weights_t=weights_t)
    node = Node(LinearStack, tuple(inputs), needs)
    return _result(LinearStack.run(node, xd, raw, activations, weights_t), node)


def sum(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over all elements or over ``dim``."""
    return Sum.apply(x, dim=dim, keepdim=keepdim)


def mean(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over all elements or over ``dim``."""
    return Mean.apply(x, dim=dim, keepdim=keepdim)


def amax(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Maximum over all elements or over ``dim``."""
    return Max.apply(x, dim=dim, keepdim=keepdim)


def reshape(x: Any, *shape: Any) -> Tensor:
    """The same elements in a new shape (one dimension may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list | torch.Size):
        shape = tuple(shape[0])
    return Reshape.apply(x, shape=shape)


def transpose(x: Any, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    return Transpose.apply(x, dim0, dim1)


def permute(x: Any, *dims: int) -> Tensor:
    """Reorder all dimensions."""
    if len(dims) == 1 and isinstance(dims[0], tuple | list):
        dims = tuple(dims[0])
    return Permute.apply(x, dims=dims)


def cat(tensors: list, dim: int = 0) -> Tensor:
    """Concatenate along ``dim``."""
    return Cat.apply(dim, *tensors)


def exp(x: Any) -> Tensor:
    """eˣ elementwise."""
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm elementwise."""
    return Log.apply(x)


def sqrt(x: Any) -> Tensor:
    """Square root elementwise."""
    return Sqrt.apply(x)


def abs(x: Any) -> Tensor:  # noqa: A001
    """|x| elementwise."""
    return Abs.apply(x)


def relu(x: Any) -> Tensor:
    """max(0, x) elementwise."""
    return ReLU.apply(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope·x otherwise."""
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent elementwise."""
    return Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid 1 / (1 + e⁻ˣ), stable for large |x|."""
    return Sigmoid.apply(x)


def softmax(x: Any, dim: int = -1) -> Tensor:
    """Softmax along ``dim``, computed stably (shifted by the maximum)."""
    return Softmax.apply(x, dim=dim)


def log_softmax(x: Any, dim: int = -1) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    return LogSoftmax.apply(x, dim=dim)


def dropout(x: Any, p: float = 0.5, training: bool = True, generator: Any = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x if isinstance(x, Tensor) else Tensor(x)
    return Dropout.apply(x, p, generator=generator)


def mse_loss(x: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed) squared error between output and target of the same shape."""
    xd = x.data if isinstance(x, Tensor) else x
    td = target.data if isinstance(target, Tensor) else target
    if reduction not in _REDUCTIONS or xd.shape != td.shape:  # check's tests, without its call
        MSELoss.check(xd, td, reduction)
    if (
        _state.enabled
        and type(target) is torch.Tensor
        and not target.requires_grad
        and isinstance(x, Tensor)
        and x.requires_grad
    ):
        # a training step's case (a network's output against a plain target), recorded here as
        # Function.apply would: no generic pass over the arguments at every step
        node = Node(MSELoss, (x, None), (True, False))
        return _result(MSELoss.forward(node, xd, td, reduction), node)
    return MSELoss.apply(x, target, reduction=reduction)


def l1_loss(x: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed) absolute error between output and target of the same shape."""
    L1Loss.check(_data(x), _data(target), reduction)
    return L1Loss.apply(x, target, reduction=reduction)


def binary_cross_entropy(p: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities p in [0, 1] against targets in [0, 1]."""
    BCELoss.check(_data(p), _data(target), reduction)
    return BCELoss.apply(p, target, reduction=reduction)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits against class indices (N,) or soft targets (N, C)."""
    CrossEntropyLoss.check(_data(logits), _data(target), reduction)
    return CrossEntropyLoss.apply(logits, target, reduction=reduction)


# -- images (the ops in the "images" section above) --------------------------------------------


def _shape_error(message: str) -> ValueError:
    # imported here, not at the top: minidl.nn imports this module
    from .nn.module import ShapeError

    return ShapeError(message)


def _pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (kernel size, stride ...) as a pair, checked against minimum."""
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    pair = (value, value) if is_int(value) else value
    if not isinstance(pair, tuple | list) or len(pair) != 2 or not all(map(is_int, pair)):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return tuple(pair)


def _check_images(who: str, x: Any, channels: int | None = None) -> tuple[int, ...]:
    """x's shape, checked to be a batch of images (N, C, H, W) with ``channels`` channels."""
    shape = tuple(_data(x).shape)
    expected = f"(N, {channels if channels is not None else 'C'}, H, W)"
    if len(shape) != 4:
        hint = " (for a single image add a batch dimension: x[None])" if len(shape) == 3 else ""
        raise _shape_error(
            f"{who} expects a batch of images of shape {expected} but got {shape}{hint}"
        )
    if channels is not None and shape[1] != channels:
        raise _shape_error(
            f"{who} expects input of shape {expected} with {channels} channels but got {shape} "
            f"with {shape[1]}"
        )
    return shape


def _check_window(
    who: str,
    shape: tuple[int, ...],
    kernel_size: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> None:
    """Raise unless the (dilated) kernel fits inside the padded image."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation, strict=True))
    padded = tuple(s + 2 * p for s, p in zip(shape[2:], padding, strict=True))
    if span[0] > padded[0] or span[1] > padded[1]:
        dilated = f" (dilation {dilation})" if dilation != (1, 1) else ""
        raise _shape_error(
            f"{who}: the kernel {kernel_size}{dilated} covers {span[0]}×{span[1]} pixels but the "
            f"input {shape} padded by {padding} is only {padded[0]}×{padded[1]}"
        )


def _check_pool_padding(who: str, kernel_size: tuple[int, int], padding: tuple[int, int]) -> None:
    if padding[0] > kernel_size[0] // 2 or padding[1] > kernel_size[1] // 2:
        raise ValueError(
            f"{who}: padding {padding} must be at most half the kernel size {kernel_size}"
        )


def _check_weight(who: str, weight: Any, bias: Any, out_dim: int) -> tuple[int, ...]:
    ws = tuple(_data(weight).shape)
    if len(ws) != 4:
        raise _shape_error(f"{who}: the weight must have 4 dimensions, got shape {ws}")
    if bias is not None and tuple(_data(bias).shape) != (ws[out_dim],):
        raise _shape_error(
            f"{who}: the bias must have shape ({ws[out_dim]},) for a weight of shape {ws}, got "
            f"{tuple(_data(bias).shape)}"
        )
    return ws


def _check_output_padding(
    who: str, output_padding: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> None:
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(
            f"{who}: output_padding {output_padding} must be smaller than the stride {stride} "
            f"or the dilation {dilation}"
        )


def _check_transposed_size(
    who: str,
    shape: tuple[int, ...],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> None:
    """Raise when the padding would crop the whole output of a transposed convolution away."""
    canvas = [(s - 1) * st + d * (k - 1) + 1 for s, k, st, d in
              zip(shape[2:], kernel_size, stride, dilation, strict=True)]
    if any(c - 2 * p < 1 for c, p in zip(canvas, padding, strict=True)):
        raise _shape_error(
            f"{who}: the input {shape} spreads over only {canvas[0]}×{canvas[1]} pixels, too few "
            f"to crop a padding of {padding} from both sides"
        )


def conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as torch) of (N, C, H, W) images by (out, C, kh, kw)."""
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding = _pair(padding, "padding", minimum=0)
    ws = _check_weight("conv2d", weight, bias, 0)
    shape = _check_images("conv2d", x, ws[1])
    _check_window("conv2d", shape, ws[2:], padding, dilation)
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


def conv_transpose2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    *,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution (conv2d's adjoint, "deconvolution"); weight (C, out, kh, kw)."""
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding = _pair(padding, "padding", minimum=0)
    output_padding = _pair(output_padding, "output_padding", minimum=0)
    ws = _check_weight("conv_transpose2d", weight, bias, 1)
    _check_output_padding("conv_transpose2d", output_padding, stride, dilation)
    shape = _check_images("conv_transpose2d", x, ws[0])
    _check_transposed_size("conv_transpose2d", shape, ws[2:], stride, padding, dilation)
    return ConvTranspose2d.apply(
        x, weight, bias, stride=stride, padding=padding, output_padding=output_padding,
        dilation=dilation,
    )


def upsample_nearest(x: Any, scale_factor: Any = 2) -> Tensor:
    """Nearest-neighbour upsampling of (N, C, H, W) images by integer factors: pixel → block."""
    scale_factor = _pair(scale_factor, "scale_factor")
    _check_images("upsample_nearest", x)
    return UpsampleNearest.apply(x, scale_factor=scale_factor)


def max_pool2d(
    x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1
) -> Tensor:
    """The maximum of each window of (N, C, H, W) images; stride defaults to the kernel size."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding", minimum=0), _pair(dilation, "dilation")
    _check_pool_padding("max_pool2d", kernel_size, padding)
    _check_window("max_pool2d", _check_images("max_pool2d", x), kernel_size, padding, dilation)
    return MaxPool2d.apply(
        x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """The mean of each window of (N, C, H, W) images, zero padding counted; stride = kernel."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding", minimum=0)
    _check_pool_padding("avg_pool2d", kernel_size, padding)
    _check_window("avg_pool2d", _check_images("avg_pool2d", x), kernel_size, padding)
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


# ----------------------------------------------------------------------------------------------
# Python operators on Tensor
# ----------------------------------------------------------------------------------------------


def _bind_operators() -> None:
    T = Tensor
    T.__add__ = lambda a, b: Add.apply(a, b)
    T.__radd__ = lambda a, b: Add.apply(b, a)
    T.__sub__ = lambda a, b: Sub.apply(a, b)
    T.__rsub__ = lambda a, b: Sub.apply(b, a)
    T.__mul__ = lambda a, b: Mul.apply(a, b)
    T.__rmul__ = lambda a, b: Mul.apply(b, a)
    T.__truediv__ = lambda a, b: Div.apply(a, b)
    T.__rtruediv__ = lambda a, b: Div.apply(b, a)
    T.__pow__ = lambda a, b: Pow.apply(a, b)
    T.__rpow__ = lambda a, b: Pow.apply(b, a)
    T.__matmul__ = lambda a, b: MatMul.apply(a, b)
    T.__rmatmul__ = lambda a, b: MatMul.apply(b, a)
    T.__neg__ = lambda a: Neg.apply(a)
    T.__getitem__ = lambda a, index: Index.apply(a, _index_data(index))
    # comparisons give plain (non-differentiable) Tensors
    T.__lt__ = lambda a, b: Tensor(a.data < _data(b))
    T.__le__ = lambda a, b: Tensor(a.data <= _data(b))
    T.__gt__ = lambda a, b: Tensor(a.data > _data(b))
    T.__ge__ = lambda a, b: Tensor(a.data >= _data(b))
    T.add, T.sub, T.mul, T.div = add, sub, mul, div
    T.neg, T.pow, T.matmul = neg, pow, matmul
    T.sum, T.mean, T.amax = sum, mean, amax
    T.reshape, T.view, T.transpose, T.permute = reshape, reshape, transpose, permute
    T.exp, T.log, T.sqrt, T.abs = exp, log, sqrt, abs
    T.relu, T.tanh, T.sigmoid = relu, tanh, sigmoid
    T.softmax, T.log_softmax = softmax, log_softmax
    T.T = property(lambda a: Transpose.apply(a, 0, 1) if a.data.dim() == 2 else a.permute(
        *reversed(range(a.data.dim()))))
    T.t = lambda a: Transpose.apply(a, 0, 1)
    T.flatten = lambda a, start_dim=0: reshape(
        a, (*a.data.shape[:start_dim], -1) if a.data.dim() else (1,))


def _index_data(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


_bind_operators()
