"""minidl.formula: each layer's maths read from its op's docstring (one source for the app)."""

import pytest

import minidl
from minidl import functional as F
from minidl import nn

LAYERS = [
    nn.Linear(2, 3), nn.ReLU(), nn.LeakyReLU(0.1), nn.Tanh(), nn.Sigmoid(), nn.ELU(), nn.GELU(),
    nn.SiLU(), nn.Softplus(), nn.Sine(), nn.Softmax(),
    nn.LogSoftmax(), nn.Dropout(0.2), nn.MSELoss(), nn.L1Loss(), nn.HuberLoss(), nn.BCELoss(),
    nn.CrossEntropyLoss(),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda m: type(m).__name__)
def test_every_layer_has_a_forward_and_a_backward_formula(layer):
    forward, backward = minidl.formula(layer)
    assert forward and backward
    assert forward.startswith(("y =", "L ="))
    assert backward.startswith("d")  # dx = ..., dp = ...
    # the text is the op's docstring, not a copy kept elsewhere
    assert forward in type(layer).op.__doc__.replace("\n    ", " ")


def test_formula_of_a_class_and_of_an_op_agree():
    assert minidl.formula(nn.ReLU) == minidl.formula(nn.ReLU()) == minidl.formula(F.ReLU)
    assert minidl.formula(F.ReLU) == ("y = max(0, x)", "dx = g where x > 0, else 0")


def test_a_model_has_no_single_formula():
    with pytest.raises(TypeError, match="no single op"):
        minidl.formula(nn.Sequential(nn.Linear(2, 1)))
