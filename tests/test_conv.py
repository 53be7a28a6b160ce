"""The image layers against torch: convolutions, upsampling, pooling, Flatten, model files.

Values and the gradients of input, weight and bias agree with torch in float64 within 1e-10 and in
float32 within 1e-5 (``oracle.check``) over a grid of kernel sizes, strides, paddings, dilations
and odd image sizes; wrong shapes raise ShapeErrors naming the layer and both shapes; saved conv
models load into the equivalent torch.nn.Sequential and back.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as TF
from oracle import Fixed, check, finite_difference_check
from safetensors.torch import load_file

import minidl
from minidl import functional as F
from minidl import nn


def pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# (kernel_size, stride, padding, dilation, image (H, W)): every combination of a few values
CONV_GRID = list(
    itertools.product(
        [1, 2, 3, (2, 3)],  # kernel sizes
        [1, 2, (2, 1)],  # strides
        [0, 1, (2, 1)],  # paddings
        [1, (1, 2)],  # dilations
        [(7, 9)],  # odd image size
    )
) + [(3, 3, 1, 1, (5, 5)), (2, 2, 0, 1, (4, 6)), (3, 2, 0, 2, (11, 6)), (5, 1, 0, 1, (5, 5))]


@pytest.mark.parametrize("kernel_size, stride, padding, dilation, image", CONV_GRID)
def test_conv2d_matches_torch(kernel_size, stride, padding, dilation, image):
    kh, kw = pair(kernel_size)
    options = dict(stride=stride, padding=padding, dilation=dilation)
    check(
        lambda x, w, b: F.conv2d(x, w, b, **options),
        randn(2, 3, *image, seed=1), randn(4, 3, kh, kw, seed=2), randn(4, seed=3),
        torch_fn=lambda x, w, b: TF.conv2d(x, w, b, **options),
    )


def test_conv2d_without_bias_and_with_a_fixed_input():
    x, w = randn(2, 3, 6, 5, seed=1), randn(2, 3, 3, 3, seed=2)
    check(lambda x, w: F.conv2d(x, w, padding=1), x, w,
          torch_fn=lambda x, w: TF.conv2d(x, w, padding=1))
    check(lambda x, w: F.conv2d(x, w, stride=2), Fixed(x), w,
          torch_fn=lambda x, w: TF.conv2d(x, w, stride=2))
    check(lambda x, w: F.conv2d(x, w, stride=2), x, Fixed(w),
          torch_fn=lambda x, w: TF.conv2d(x, w, stride=2))


# (kernel_size, stride, padding, output_padding, dilation); output_padding < stride or dilation
TRANSPOSED_GRID = [
    (k, s, p, op, d)
    for k, s, p, op, d in itertools.product(
        [1, 2, 3, (2, 3)], [1, 2, 3, (2, 1)], [0, 1], [0, 1, (1, 0)], [1, 2]
    )
    if all(o < max(ss, dd) for o, ss, dd in zip(pair(op), pair(s), pair(d), strict=True))
]


@pytest.mark.parametrize("kernel_size, stride, padding, output_padding, dilation", TRANSPOSED_GRID)
def test_conv_transpose2d_matches_torch(kernel_size, stride, padding, output_padding, dilation):
    kh, kw = pair(kernel_size)
    options = dict(stride=stride, padding=padding, output_padding=output_padding)
    check(
        lambda x, w, b: F.conv_transpose2d(x, w, b, **options, dilation=dilation),
        randn(2, 3, 5, 3, seed=1), randn(3, 4, kh, kw, seed=2), randn(4, seed=3),
        torch_fn=lambda x, w, b: TF.conv_transpose2d(x, w, b, **options, dilation=dilation),
    )


def test_convolution_gradients_match_finite_differences():
    finite_difference_check(
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2)),
        randn(1, 2, 5, 6, seed=1), randn(3, 2, 2, 3, seed=2), randn(3, seed=3),
    )
    finite_difference_check(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        randn(1, 2, 3, 4, seed=1), randn(2, 3, 3, 2, seed=2), randn(3, seed=3),
    )


@pytest.mark.parametrize("scale_factor", [1, 2, 3, (2, 3)])
def test_upsample_matches_torch(scale_factor):
    theirs = torch.nn.Upsample(scale_factor=scale_factor, mode="nearest")
    check(nn.Upsample(scale_factor), randn(2, 3, 5, 4), torch_fn=theirs)
    check(lambda x: F.upsample_nearest(x, scale_factor), randn(1, 2, 3, 3), torch_fn=theirs)


@pytest.mark.parametrize(
    "kernel_size, stride, padding, dilation",
    list(itertools.product([2, 3, (3, 2)], [None, 1, 2], [0, 1], [1, 2])),
)
def test_max_pool2d_matches_torch(kernel_size, stride, padding, dilation):
    check(
        nn.MaxPool2d(kernel_size, stride, padding, dilation),
        randn(2, 3, 7, 9),
        torch_fn=torch.nn.MaxPool2d(kernel_size, stride, padding, dilation),
    )


@pytest.mark.parametrize(
    "kernel_size, stride, padding", list(itertools.product([2, 3, (3, 2)], [None, 1, 2], [0, 1]))
)
def test_avg_pool2d_matches_torch(kernel_size, stride, padding):
    check(
        nn.AvgPool2d(kernel_size, stride, padding),
        randn(2, 3, 7, 9),
        torch_fn=torch.nn.AvgPool2d(kernel_size, stride, padding),
    )


def test_functional_pooling_matches_torch():
    x = randn(2, 2, 6, 7)
    check(lambda x: F.max_pool2d(x, 3, 2, 1), x, torch_fn=lambda x: TF.max_pool2d(x, 3, 2, 1))
    check(lambda x: F.avg_pool2d(x, 2), x, torch_fn=lambda x: TF.avg_pool2d(x, 2))


@pytest.mark.parametrize("start_dim, end_dim", [(1, -1), (0, -1), (1, 2), (2, 3), (-2, -1)])
def test_flatten_matches_torch(start_dim, end_dim):
    check(
        nn.Flatten(start_dim, end_dim),
        randn(2, 3, 4, 5),
        torch_fn=torch.nn.Flatten(start_dim, end_dim),
    )


# ----------------------------------------------------------------------------------------------
# layers: torch's parameters, initialisation and state dicts
# ----------------------------------------------------------------------------------------------

LAYER_PAIRS = [
    (
        lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1),
        lambda: torch.nn.Conv2d(3, 5, 3, stride=2, padding=1),
    ),
    (
        lambda: nn.Conv2d(3, 5, (2, 3), 1, (1, 0), 2, bias=False),
        lambda: torch.nn.Conv2d(3, 5, (2, 3), 1, (1, 0), 2, bias=False),
    ),
    (
        lambda: nn.ConvTranspose2d(3, 5, 3, stride=2, padding=1, output_padding=1),
        lambda: torch.nn.ConvTranspose2d(3, 5, 3, stride=2, padding=1, output_padding=1),
    ),
    (
        lambda: nn.ConvTranspose2d(3, 5, (3, 2), 1, 0, 0, bias=False, dilation=2),
        lambda: torch.nn.ConvTranspose2d(3, 5, (3, 2), 1, 0, 0, bias=False, dilation=2),
    ),
]


@pytest.mark.parametrize("ours, theirs", LAYER_PAIRS)
def test_conv_layers_have_torch_parameters_and_default_init(ours, theirs):
    torch.manual_seed(7)
    mine = ours()
    torch.manual_seed(7)
    reference = theirs()
    ref_state = reference.state_dict()
    assert list(mine.state_dict()) == list(ref_state)
    for key, value in mine.state_dict().items():
        assert value.shape == ref_state[key].shape, key
        # the same draws from the same seed: PyTorch's U(±1/√fan_in), weight then bias
        torch.testing.assert_close(value, ref_state[key], atol=1e-7, rtol=0)


@pytest.mark.parametrize("ours, theirs", LAYER_PAIRS)
def test_conv_layers_compute_what_torch_computes_with_the_same_weights(ours, theirs):
    mine, reference = ours().double(), theirs().double()
    reference.load_state_dict(mine.state_dict())
    x = randn(2, 3, 6, 7)
    weights = list(reference.parameters())
    check(
        lambda x, *params: _with_parameters(mine, params)(x),
        x, *[w.detach() for w in weights],
        torch_fn=lambda x, *params: torch.func.functional_call(
            reference, dict(zip(dict(reference.named_parameters()), params, strict=True)), x
        ),
    )


def _with_parameters(module: nn.Module, params: tuple) -> nn.Module:
    """The module with its parameters replaced by ``params`` (so check() sees their grads)."""
    for (name, _), p in zip(list(module.named_parameters()), params, strict=True):
        module._parameters[name] = p
    return module


def test_module_reprs_follow_torch():
    assert repr(nn.Conv2d(3, 8, 3, stride=2, padding=1)) == repr(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
    )
    assert repr(nn.Conv2d(3, 8, (1, 2), bias=False)) == repr(
        torch.nn.Conv2d(3, 8, (1, 2), bias=False)
    )
    assert "output_padding=(1, 1)" in repr(nn.ConvTranspose2d(2, 2, 3, 2, 1, 1))


# ----------------------------------------------------------------------------------------------
# clear errors
# ----------------------------------------------------------------------------------------------


def test_wrong_rank_names_the_layer_and_both_shapes():
    expected = r"Conv2d\(3, 8.*\(N, 3, H, W\).*\(3, 10, 10\).*x\[None\]"
    with pytest.raises(nn.ShapeError, match=expected):
        nn.Conv2d(3, 8, 3)(torch.zeros(3, 10, 10))
    for layer in (nn.Upsample(2), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.ConvTranspose2d(3, 2, 2)):
        with pytest.raises(nn.ShapeError, match=rf"{type(layer).__name__}.*\(4, 3\)"):
            layer(torch.zeros(4, 3))


def test_wrong_channel_count_names_the_layer_and_both_shapes():
    with pytest.raises(nn.ShapeError, match=r"Conv2d\(3, 8.*\(N, 3, H, W\).*\(2, 4, 9, 9\)"):
        nn.Conv2d(3, 8, 3)(torch.zeros(2, 4, 9, 9))
    expected = r"ConvTranspose2d\(5, 2.*\(N, 5, H, W\).*\(1, 3, 4, 4\)"
    with pytest.raises(nn.ShapeError, match=expected):
        nn.ConvTranspose2d(5, 2, 3)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(nn.ShapeError, match=r"conv2d.*\(N, 2, H, W\).*\(1, 3, 4, 4\)"):
        F.conv2d(torch.zeros(1, 3, 4, 4), torch.zeros(1, 2, 3, 3))


def test_kernel_larger_than_the_padded_input_is_refused():
    with pytest.raises(nn.ShapeError, match=r"kernel \(5, 5\).*5×5.*\(1, 3, 3, 3\).*3×3"):
        nn.Conv2d(3, 1, 5)(torch.zeros(1, 3, 3, 3))
    with pytest.raises(nn.ShapeError, match=r"dilation \(2, 2\).*5×5.*\(1, 3, 4, 4\).*4×4"):
        nn.Conv2d(3, 1, 3, dilation=2)(torch.zeros(1, 3, 4, 4))
    nn.Conv2d(3, 1, 5, padding=1)(torch.zeros(1, 3, 3, 3))  # fits once padded
    with pytest.raises(nn.ShapeError, match="MaxPool2d"):
        nn.MaxPool2d(3)(torch.zeros(1, 1, 2, 2))


def test_sequential_adds_the_layer_index_to_shape_errors():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(3, 2, 3))
    with pytest.raises(nn.ShapeError, match=r"^layer 2: Conv2d\(3, 2.*\(1, 4, 6, 6\)"):
        model(torch.zeros(1, 1, 8, 8))


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(3, 1, 0)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(3, 1, (1, 2, 3))
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(3, 1, 3, stride=1, output_padding=1)
    with pytest.raises(ValueError, match="half the kernel"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="nearest"):
        nn.Upsample(2, mode="bilinear")
    with pytest.raises(ValueError, match="scale_factor"):
        nn.Upsample(1.5)


# ----------------------------------------------------------------------------------------------
# model files: minidl <-> torch
# ----------------------------------------------------------------------------------------------


def conv_models() -> tuple[nn.Sequential, torch.nn.Sequential]:
    """The same architecture in minidl and in torch (weights drawn independently)."""
    ours = nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),
        nn.Upsample(2), nn.AvgPool2d(2, padding=1), nn.Flatten(), nn.Linear(4 * 9 * 9, 2),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1),
        torch.nn.Sigmoid(), torch.nn.Upsample(scale_factor=2), torch.nn.AvgPool2d(2, padding=1),
        torch.nn.Flatten(), torch.nn.Linear(4 * 9 * 9, 2),
    )
    return ours, theirs


def test_saved_conv_model_loads_back_and_into_torch(tmp_path):
    ours, theirs = conv_models()
    path = tmp_path / "conv.safetensors"
    minidl.save(ours, path)
    x = torch.rand(3, 3, 16, 16)
    expected = ours(x).data

    loaded = minidl.load(path)
    assert repr(loaded) == repr(ours)
    torch.testing.assert_close(loaded(x).data, expected, atol=0, rtol=0)

    theirs.load_state_dict(load_file(path))
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), expected, atol=1e-6, rtol=1e-5)


def test_torch_conv_weights_load_into_minidl(tmp_path):
    ours, theirs = conv_models()
    ours.load_state_dict(theirs.state_dict())
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(ours(x).data, theirs(x), atol=1e-6, rtol=1e-5)
    minidl.save(ours, tmp_path / "from_torch.safetensors")
    torch.testing.assert_close(
        minidl.load(tmp_path / "from_torch.safetensors")(x).data, ours(x).data, atol=0, rtol=0
    )


def test_a_conv_network_learns():
    """A few SGD steps of a small conv net lower its loss, as in torch with the same weights."""
    torch.manual_seed(0)
    ours, theirs = conv_models()
    theirs.load_state_dict(ours.state_dict())
    x, target = torch.rand(8, 3, 16, 16), torch.rand(8, 2)
    opt = minidl.optim.SGD(ours.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.mse_loss(ours(x), target)
        loss.backward()
        opt.step()
        ref_opt.zero_grad()
        ref_loss = TF.mse_loss(theirs(x), target)
        ref_loss.backward()
        ref_opt.step()
        losses.append(loss.item())
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-4)
    assert losses[-1] < losses[0]
