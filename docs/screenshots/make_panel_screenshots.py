"""Screenshots of the maths panel, the gradient-norm plot and the hidden-space view.

Run from the repository root: ``xvfb-run -a -s "-screen 0 1600x1000x24" python
docs/screenshots/make_panel_screenshots.py``. It trains the seed-like network (2-8-8-1, Tanh,
Sigmoid) on the disk data with minidl for a few hundred steps, computes W, b, dW, the norms per
epoch and the hidden activations itself, and shows them in the widgets as the app would. It
also prints how long one update of each widget takes (they are fed at ~30 Hz while training).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import minidl  # noqa: E402
from minidl import nn, optim  # noqa: E402
from playground.experiment import NetworkSpec  # noqa: E402
from playground.files import save_picture  # noqa: E402
from playground.insight import HiddenSpace, columns, principal_axes  # noqa: E402
from playground.widgets.gradient_plot import GradientPlot  # noqa: E402
from playground.widgets.hidden_view import HiddenSpaceView  # noqa: E402
from playground.widgets.maths_panel import MathsPanel  # noqa: E402

STACK = "linear:8,tanh,linear:8,tanh,linear:1,sigmoid"


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def train(epochs: int = 60, seed: int = 0) -> dict:
    """Train 2-8-8-1 on the disk; norms per epoch, the model, its last grads and the data."""
    torch.manual_seed(seed)
    x, y = minidl.data.disk(300, seed=seed, noise=0.05)
    y = y.float()[:, None]
    is_test = torch.rand(len(x), generator=torch.Generator().manual_seed(1)) < 0.3
    x_train, y_train = x[~is_test], y[~is_test]
    model = nn.Sequential(
        nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid()
    )
    linears = [m for m in model if isinstance(m, nn.Linear)]
    opt = optim.Adam(model.parameters(), lr=0.03)
    loss_fn = nn.BCELoss()
    gen = torch.Generator().manual_seed(seed)
    grad_norms, weight_norms = [], []
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=gen)
        for start in range(0, len(order), 21):
            batch = order[start : start + 21]
            opt.zero_grad()
            loss = loss_fn(model(x_train[batch] * 4 - 2), y_train[batch])
            loss.backward()
            opt.step()
        grad_norms.append([float(torch.linalg.norm(m.weight.grad)) for m in linears])
        weight_norms.append([float(torch.linalg.norm(m.weight.data)) for m in linears])
    return {
        "model": model,
        "x": x.numpy(),
        "y": y[:, 0].numpy().astype(int),
        "is_test": is_test.numpy(),
        "grad_norms": np.array(grad_norms),
        "weight_norms": np.array(weight_norms),
        "loss": float(loss.data),
    }


def hidden_of(model: nn.Sequential, x: np.ndarray, upto: int) -> np.ndarray:
    """The outputs of stack layer ``upto`` for raw points x (the model saw 4x - 2)."""
    h = minidl.Tensor(torch.as_tensor(x, dtype=torch.float32) * 4 - 2)
    with minidl.no_grad():
        for layer in list(model)[: upto + 1]:
            h = layer(h)
    return h.data.numpy()


def hidden_space(run: dict, upto: int, lines: int = 11, m: int = 60) -> HiddenSpace:
    """Points and warped grid lines in the first two principal components of layer ``upto``."""
    model, x = run["model"], run["x"]
    acts = hidden_of(model, x, upto)
    train = acts[~run["is_test"]]
    mean, axes = principal_axes(train)
    basis = axes.T

    t = np.linspace(0.0, 1.0, m)
    grid = np.empty((2, lines, m, 2))
    for k, c in enumerate(np.linspace(0.0, 1.0, lines)):
        for family, raw in ((0, np.c_[np.full(m, c), t]), (1, np.c_[t, np.full(m, c)])):
            grid[family, k] = (hidden_of(model, raw, upto) - mean) @ basis
    return HiddenSpace(
        points=(acts - mean) @ basis,
        labels=run["y"],
        is_test=run["is_test"],
        grid=grid,
        axis_labels=("principal component 1", "principal component 2"),
    )


def per_update_ms(update, repeats: int = 60) -> float:
    app = QApplication.instance()
    start = time.perf_counter()
    for _ in range(repeats):
        update()
        app.processEvents()
    return 1000 * (time.perf_counter() - start) / repeats


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    run = train()
    model = run["model"]
    print(f"trained: final batch loss {run['loss']:.3f}")
    cols = columns(NetworkSpec.parse(STACK), ["x1", "x2"], 1)
    panel = MathsPanel()
    panel.resize(900, 520)
    panel.show()
    layer = model[2]
    w, b, dw = (t.detach().numpy() for t in (layer.weight.data, layer.bias.data, layer.weight.grad))
    panel.show_column(cols[2], w, b, dw)
    wait(300)
    save_picture(panel.grab(), OUT / "maths_panel.png")
    print(f"maths panel: {per_update_ms(lambda: panel.show_column(cols[2], w, b, dw)):.2f} ms")

    grads = GradientPlot()
    grads.resize(760, 380)
    grads.show()
    labels = [f"Linear {k + 1} ({m.in_features}→{m.out_features})" for k, m in
              enumerate(mod for mod in model if isinstance(mod, nn.Linear))]  # fmt: skip
    grads.set_labels(labels)
    epochs = np.arange(1, len(run["grad_norms"]) + 1, dtype=float)
    for start in range(0, len(epochs), 5):  # as snapshots arrive
        part = slice(start, start + 5)
        grads.append(epochs[part], run["grad_norms"][part], run["weight_norms"][part])
    wait(300)
    save_picture(grads.grab(), OUT / "gradients.png")
    grads.mark_divergence(2, "Training diverged: the gradient of Linear 3 (8→1) blew up")
    wait(200)
    save_picture(grads.grab(), Path("/tmp/gradients-diverged.png"))
    last = (epochs[-1:], run["grad_norms"][-1:], run["weight_norms"][-1:])
    print(f"gradient plot: {per_update_ms(lambda: grads.append(*last)):.2f} ms")

    view = HiddenSpaceView()
    view.resize(700, 560)
    view.show()
    view.set_columns(cols)
    view.column_box.setCurrentIndex(2)  # column 2: the second Linear + Tanh (stack layer 3)
    view.pca.setChecked(True)
    space = hidden_space(run, upto=3)
    view.show(space)
    wait(300)
    save_picture(view.grab(), OUT / "hidden_space.png")
    print(f"hidden view: {per_update_ms(lambda: view.show(space)):.2f} ms")
    app.processEvents()


if __name__ == "__main__":
    main()
