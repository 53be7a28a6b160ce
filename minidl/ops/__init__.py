"""Every operation of minidl, each a Function with its forward and backward formula side by side.

Read them in this order; each file is independent of the others:

- ``arithmetic.py``: + - * / ** and exp, log, sqrt, abs (elementwise, broadcasting), the matrix
  product, Linear (y = x Wᵀ + b) and BatchedLinear (M Linears of one shape at once).
- ``shape.py``: reductions (sum, mean, max) and shape ops (reshape, transpose, index, cat).
- ``activations.py``: ReLU, LeakyReLU, Tanh, Sigmoid, ELU, GELU, SiLU, Softplus, Sine, Softmax,
  LogSoftmax, Dropout.
- ``losses.py``: MSE, L1, Huber, binary cross-entropy, cross-entropy.
- ``images.py``: convolution, transposed convolution, upsampling, pooling (im2col).

An op's docstring opens with its maths, ``forward;  backward``, where g is the gradient of the
loss with respect to the op's output y (dL/dy) and dx is the gradient it passes to input x.
``Function.formula()`` reads that line back (the app shows it; nothing else restates it).
"""

from .activations import (
    ELU,
    GELU,
    Dropout,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Sine,
    Softmax,
    Softplus,
    Tanh,
)
from .arithmetic import (
    Abs,
    Add,
    BatchedLinear,
    Div,
    Exp,
    Linear,
    Log,
    MatMul,
    Mul,
    Neg,
    Pow,
    Sqrt,
    Sub,
)
from .images import AvgPool2d, Conv2d, ConvTranspose2d, MaxPool2d, UpsampleNearest
from .losses import BCELoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss
from .shape import Cat, Index, Max, Mean, Permute, Reshape, Sum, Transpose

__all__ = [
    "Add", "Sub", "Mul", "Div", "Neg", "Pow", "Exp", "Log", "Sqrt", "Abs", "MatMul", "Linear",
    "BatchedLinear",
    "Sum", "Mean", "Max", "Reshape", "Transpose", "Permute", "Index", "Cat",
    "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "ELU", "GELU", "SiLU", "Softplus", "Sine", "Softmax",
    "LogSoftmax", "Dropout",
    "MSELoss", "L1Loss", "HuberLoss", "BCELoss", "CrossEntropyLoss",
    "Conv2d", "ConvTranspose2d", "UpsampleNearest", "MaxPool2d", "AvgPool2d",
]
