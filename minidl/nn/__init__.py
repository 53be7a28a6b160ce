"""Neural-network building blocks with PyTorch's names: Module, layers, losses."""

from .layers import (
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import BCELoss, CrossEntropyLoss, L1Loss, MSELoss
from .module import Module, ShapeError
from ..tensor import Parameter

__all__ = [
    "Module",
    "Parameter",
    "ShapeError",
    "Linear",
    "ReLU",
    "LeakyReLU",
    "Tanh",
    "Sigmoid",
    "Softmax",
    "LogSoftmax",
    "Dropout",
    "Identity",
    "Sequential",
    "MSELoss",
    "L1Loss",
    "BCELoss",
    "CrossEntropyLoss",
]
