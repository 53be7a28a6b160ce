"""Neural-network building blocks with PyTorch's names: Module, layers, losses."""

from ..tensor import Parameter
from .conv import AvgPool2d, Conv2d, ConvTranspose2d, Flatten, MaxPool2d, Upsample
from .layers import (
    ELU,
    GELU,
    Dropout,
    Features,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Sine,
    Softmax,
    Softplus,
    Tanh,
)
from .losses import BCELoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss
from .module import Module, ShapeError, StateDictError
from .stack import PerModelFeatures, PerModelLoss, Stacked, StackedLinear, stack

__all__ = [
    "Module",
    "Parameter",
    "ShapeError",
    "StateDictError",
    "Linear",
    "ReLU",
    "LeakyReLU",
    "Tanh",
    "Sigmoid",
    "ELU",
    "GELU",
    "SiLU",
    "Softplus",
    "Sine",
    "Softmax",
    "LogSoftmax",
    "Dropout",
    "Identity",
    "Features",
    "Sequential",
    "Conv2d",
    "ConvTranspose2d",
    "Upsample",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
    "MSELoss",
    "L1Loss",
    "HuberLoss",
    "BCELoss",
    "CrossEntropyLoss",
    "stack",
    "Stacked",
    "StackedLinear",
    "PerModelLoss",
    "PerModelFeatures",
]
