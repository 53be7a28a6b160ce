"""minidl's autograd against torch.autograd: recording, backward, accumulation, freeing."""

from __future__ import annotations

import threading

import pytest
import torch
from oracle import check

import minidl
from minidl import functional as F


def leaf(values, requires_grad: bool = True) -> tuple[minidl.Tensor, torch.Tensor]:
    """The same float64 leaf in minidl and in torch."""
    data = torch.as_tensor(values, dtype=torch.float64)
    return minidl.Tensor(data.clone(), requires_grad=requires_grad), data.clone().requires_grad_(
        requires_grad
    )


def close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual, expected, atol=1e-10, rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# recording
# ---------------------------------------------------------------------------------------------


def test_requires_grad_propagates_through_ops() -> None:
    x = minidl.Tensor(torch.randn(3), requires_grad=True)
    c = minidl.Tensor(torch.randn(3))
    assert (x * c).requires_grad
    assert (c * 2 + x).requires_grad
    assert F.relu(x).sum().requires_grad
    assert not (c * c).requires_grad
    assert not (c + torch.ones(3)).requires_grad
    assert (c * c).grad_fn is None
    assert (x * c).grad_fn is not None


def test_leaves_and_non_leaves() -> None:
    x = minidl.Tensor(torch.randn(3), requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn is not None
    y.sum().backward()
    close(x.grad, torch.full((3,), 2.0))
    assert y.grad is None  # as in torch, only leaves keep their gradient


def test_no_grad_records_nothing() -> None:
    x = minidl.Tensor(torch.randn(3), requires_grad=True)
    assert minidl.is_grad_enabled()
    with minidl.no_grad():
        assert not minidl.is_grad_enabled()
        y = F.tanh(x * x).sum()
        with minidl.enable_grad():
            z = x * 3
    assert minidl.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_works_as_a_decorator_and_restores_after_an_exception() -> None:
    x = minidl.Tensor(torch.randn(3), requires_grad=True)

    @minidl.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    with pytest.raises(ZeroDivisionError), minidl.no_grad():
        1 / 0  # noqa: B018
    assert minidl.is_grad_enabled()


def test_no_grad_is_per_thread() -> None:
    """The training worker's no_grad() must not switch off recording in the GUI thread."""
    inside, release = threading.Event(), threading.Event()
    seen = []

    def worker():
        with minidl.no_grad():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(5)
    seen.append(minidl.is_grad_enabled())
    x = minidl.Tensor(torch.ones(2), requires_grad=True)
    seen.append((x * x).requires_grad)
    release.set()
    thread.join(5)
    assert seen == [True, True]


def test_detach_cuts_the_graph() -> None:
    x = minidl.Tensor(torch.randn(3), requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    (d * x).sum().backward()
    close(x.grad, d.data)


# ---------------------------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------------------------


def test_backward_with_a_gradient_for_a_non_scalar_output() -> None:
    x = torch.randn(2, 3, dtype=torch.float64)
    check(lambda a: a.exp() * a, x)  # check() feeds a random (2, 3) upstream gradient
    ours, theirs = leaf(x)
    g = torch.randn(2, 3, dtype=torch.float64)
    (ours * ours).backward(g)
    (theirs * theirs).backward(g)
    close(ours.grad, theirs.grad)


def test_backward_accepts_a_minidl_tensor_as_gradient() -> None:
    ours, theirs = leaf([1.0, 2.0])
    (ours * 3).backward(minidl.Tensor(torch.tensor([1.0, -1.0], dtype=torch.float64)))
    (theirs * 3).backward(torch.tensor([1.0, -1.0], dtype=torch.float64))
    close(ours.grad, theirs.grad)


def test_backward_without_gradient_on_non_scalar_names_the_shape() -> None:
    x = minidl.Tensor(torch.randn(2, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        (x * 2).backward()


def test_backward_with_a_gradient_of_the_wrong_shape_names_both_shapes() -> None:
    x = minidl.Tensor(torch.randn(2, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        (x * 2).backward(torch.ones(3))


def test_backward_on_a_single_element_tensor_needs_no_gradient() -> None:
    ours, theirs = leaf([[2.0]])
    (ours * ours).backward()
    (theirs * theirs).backward()
    close(ours.grad, theirs.grad)


def test_backward_on_a_leaf() -> None:
    ours, theirs = leaf([1.0, 2.0])
    g = torch.tensor([0.5, -2.0], dtype=torch.float64)
    ours.backward(g)
    theirs.backward(g)
    close(ours.grad, theirs.grad)


def test_gradients_accumulate_across_backward_calls_as_in_torch() -> None:
    ours, theirs = leaf(torch.randn(4, dtype=torch.float64))
    for fn in (lambda t: (t * t).sum(), lambda t: t.exp().mean(), lambda t: (t * 3).sum()):
        fn(ours).backward()
        fn(theirs).backward()
        close(ours.grad, theirs.grad)


def test_diamond_graph_gets_every_path() -> None:
    """x reaches z along three paths; a wrong topological order drops or repeats some."""
    x = torch.linspace(-1.5, 2.0, 5, dtype=torch.float64)
    check(lambda t: (t * t + t.exp()) * t, x)
    ours = minidl.Tensor(x, requires_grad=True)
    y = ours * ours + ours.exp()
    z = y * ours
    z.sum().backward()
    # d/dx (x³ + x eˣ) = 3x² + eˣ + x eˣ
    close(ours.grad, 3 * x**2 + x.exp() * (1 + x))


def test_shared_intermediate_used_by_many_consumers() -> None:
    x = torch.randn(3, dtype=torch.float64)
    check(lambda t: (lambda h: h * h + h.sigmoid() - h.exp() * h)(t.tanh()).sum(), x)


def test_deep_chain_needs_no_recursion() -> None:
    ours, theirs = leaf([0.5])
    y, t = ours, theirs
    for _ in range(5000):
        y = y * 0.9999 + 0.0001
        t = t * 0.9999 + 0.0001
    y.sum().backward()
    t.sum().backward()
    close(ours.grad, theirs.grad)


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((1, 3), (2, 1, 1)), ((5,), ()), ((), (2, 2))],
)
def test_broadcasting_is_summed_back_in_backward(shape_a, shape_b) -> None:
    a = torch.randn(shape_a, dtype=torch.float64)
    b = torch.randn(shape_b, dtype=torch.float64)
    for fn in (lambda p, q: p + q, lambda p, q: p - q, lambda p, q: p * q, lambda p, q: p / q):
        check(fn, a, b)


def test_graph_is_freed_after_backward() -> None:
    x = minidl.Tensor(torch.randn(3), requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(minidl.GraphFreedError, match="retain_graph=True"):
        loss.backward()
    assert issubclass(minidl.GraphFreedError, RuntimeError)  # what torch users catch


def test_retain_graph_allows_a_second_backward_that_accumulates() -> None:
    ours, theirs = leaf(torch.randn(3, dtype=torch.float64))
    loss_ours = (ours.exp() * ours).sum()
    loss_theirs = (theirs.exp() * theirs).sum()
    loss_ours.backward(retain_graph=True)
    loss_theirs.backward(retain_graph=True)
    loss_ours.backward()
    loss_theirs.backward()
    close(ours.grad, theirs.grad)
    with pytest.raises(minidl.GraphFreedError):
        loss_ours.backward()


def test_freed_graph_shared_by_a_new_output_raises() -> None:
    x = minidl.Tensor(torch.randn(3), requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(minidl.GraphFreedError):
        (h * 2).sum().backward()


# ---------------------------------------------------------------------------------------------
# leaf gradients are tensors of their own, and torch's autograd never sees minidl's work
# ---------------------------------------------------------------------------------------------


def test_leaf_grads_are_independent_writable_tensors() -> None:
    a = minidl.Tensor(torch.ones(2, 3), requires_grad=True)
    b = minidl.Tensor(torch.ones(2, 3), requires_grad=True)
    g = torch.ones(2, 3)
    (a + b).backward(g)
    a.grad.mul_(5)  # as a user would; must not change b's gradient or the caller's tensor
    assert torch.equal(b.grad, torch.ones(2, 3)) and torch.equal(g, torch.ones(2, 3))
    x = minidl.Tensor(torch.ones(2, 3), requires_grad=True)
    x.sum().backward()  # the gradient of a sum is one value broadcast: it must still be writable
    x.grad.add_(1)
    assert torch.equal(x.grad, torch.full((2, 3), 2.0))


def test_no_torch_tensor_made_by_minidl_requires_grad() -> None:
    t = torch.randn(4, 3, requires_grad=True)  # e.g. the output of someone's torch model
    model = minidl.nn.Sequential(minidl.nn.Linear(3, 2), minidl.nn.Tanh())
    w = model[0].weight
    out = model(t)
    loss = F.mse_loss(out, torch.zeros(4, 2)) + (t * w.sum()).sum() + F.cat([out, t], 1).sum()
    loss.backward()
    made = [out.data, loss.data, *(p.grad for p in model.parameters())]
    assert not any(m.requires_grad for m in made)
    assert t.grad is None  # minidl did not call into torch's autograd either
