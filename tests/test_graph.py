"""The graph a learner builds is the graph recorded: a node per layer, walked in backward's order.

Also the seam between the plain engine and minidl.fast: the eager core holds no generated code,
the fast step's generated source is visible (linecache, tracebacks, ``minidl.fast.source``), and
``fit(fast=False)`` runs the eager step with the same results to the bit.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import traceback
from pathlib import Path

import pytest
import torch

import minidl
from minidl import nn, optim

PACKAGE = Path(minidl.__file__).parent


def seed_like() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid()
    )


def test_sequential_records_a_node_per_layer_in_backwards_order():
    torch.manual_seed(0)
    model = seed_like()
    x, y = minidl.data.disk(16, seed=0)
    loss = nn.MSELoss()(model(x), y.float().unsqueeze(1))
    nodes = minidl.graph_of(loss)
    assert [n.name for n in nodes] == [
        "MSELoss", "Sigmoid", "Linear", "Tanh", "Linear", "ReLU", "Linear"
    ]
    assert [n.shape for n in nodes] == [(), (16, 1), (16, 1), (16, 8), (16, 8), (16, 8), (16, 8)]
    assert loss.grad_fn is nodes[0]
    # each node's inputs: the node before it, then the layer's parameters (leaves)
    sigmoid, last_linear = nodes[1], nodes[2]
    assert sigmoid.parents == [last_linear]
    assert last_linear.inputs[1] is model[4].weight and last_linear.inputs[2] is model[4].bias
    assert last_linear.parents == [nodes[3]]
    # the first Linear's input is data: no gradient goes there
    assert nodes[-1].inputs[0] is None and nodes[-1].parents == []


def test_graph_of_orders_a_diamond_so_every_node_comes_before_its_inputs():
    a = minidl.Tensor(torch.randn(3), requires_grad=True)
    h = a.tanh()
    out = (h * h + h.exp()).sum()
    nodes = minidl.graph_of(out)
    position = {id(n): i for i, n in enumerate(nodes)}
    for n in nodes:
        for p in n.parents:
            assert position[id(n)] < position[id(p)]
    assert len(nodes) == 5 and nodes[0].name == "Sum" and nodes[-1].name == "Tanh"
    assert minidl.graph_of(a) == []


def test_a_deep_graph_is_walked_without_recursion():
    a = minidl.Tensor(torch.ones(2), requires_grad=True)
    h = a
    for _ in range(5000):  # deeper than Python's recursion limit
        h = h * 1.0
    h.sum().backward()
    assert torch.equal(a.grad, torch.ones(2))


def _calls(source: str) -> set[str]:
    return {
        n.func.id for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


@pytest.mark.parametrize(
    "path", sorted(p for p in PACKAGE.rglob("*.py") if "fast" not in p.relative_to(PACKAGE).parts),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_the_eager_engine_generates_no_code(path):
    source = path.read_text(encoding="utf-8")
    assert not _calls(source) & {"exec", "eval", "compile"}
    for flag in ("fresh_grads", "owned_grads", "number_grad", "grad_from_output"):
        assert flag not in source


def test_the_fast_steps_source_is_printable_and_in_linecache():
    model = seed_like()
    step = minidl.fast.TrainStep(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    text = minidl.fast.source(step)
    assert text == step.source == minidl.fast.source(model)
    # the ops' own lines, their locals tagged with the op's place in the chain
    assert "# Linear.forward (minidl.ops.arithmetic)" in text
    assert "h0 = torch.addmm(bias_0, x_0, weight_0.t())" in text
    assert "# Tanh.backward (minidl.ops.activations)" in text
    assert "back3 = (g_3 - g_3 * y_3 * y_3,)" in text
    assert "return (g - g * y * y,)" in inspect.getsource(minidl.ops.Tanh.backward)
    kernels = step._current_plan().kernels(())
    assert linecache.getlines(kernels.filename) == text.splitlines(True)
    with pytest.raises(TypeError, match="eager"):
        other = nn.Sequential(nn.Linear(2, 3), nn.Softmax())  # Softmax: not a chain's layer
        minidl.fast.source(minidl.fast.TrainStep(other, nn.MSELoss(), step.optimizer))


def test_an_error_inside_a_kernel_shows_the_kernels_line():
    model = seed_like()
    kernels = minidl.fast.chain_kernels(
        (minidl.ops.Linear, minidl.ops.ReLU), (True,), minidl.ops.MSELoss
    )
    args = [(model[0].weight.data, model[0].bias.data), ()]
    check = minidl.ops.MSELoss.check
    with pytest.raises(RuntimeError) as info:
        # a weight of the wrong width: torch's addmm raises inside the kernel
        kernels.run(torch.randn(4, 3), torch.randn(4, 25), args, "mean", {}, check)
    text = "".join(traceback.format_exception(info.value))
    assert kernels.filename in text
    assert "h0 = torch.addmm(bias_0, x_0, weight_0.t())" in text


def test_fit_eager_and_fast_give_the_same_bits():
    x, y = minidl.data.disk(200, seed=1)
    y = y.float().unsqueeze(1)
    results = []
    for fast in (True, False):
        torch.manual_seed(3)
        model = seed_like()
        opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        history = minidl.train.fit(model, nn.MSELoss(), opt, (x, y), epochs=3, batch_size=32,
                                   generator=torch.Generator().manual_seed(0), fast=fast)
        results.append((history.train_loss, [p.data.clone() for p in model.parameters()]))
    assert results[0][0] == results[1][0]
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1], strict=True))


def test_shape_error_is_part_of_the_core():
    assert nn.ShapeError is minidl.ShapeError is minidl.tensor.ShapeError
    with pytest.raises(minidl.ShapeError, match=r"layer 0: .*\(N, 2\) but got \(4, 3\)"):
        seed_like()(torch.randn(4, 3))
