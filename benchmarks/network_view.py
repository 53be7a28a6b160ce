"""``python -m benchmarks.network_view``: the cost of one live update of the network view.

Times ``set_maps`` + ``set_weights`` (what a snapshot costs the GUI thread), a full repaint of
the view, and a GUI timer's lateness while the view updates at 30 Hz, for a network of 8 hidden
Linear layers of 25 units (16×16 maps, fresh random maps and weights at every round so every pen
and pixmap really changes: the worst case). Run it under
xvfb or with QT_QPA_PLATFORM=offscreen. ``--screenshot PATH`` also saves a picture of the seed-
like network (2 inputs, 8 + ReLU, 8 + ReLU, 1 + Sigmoid) beside a 256-wide layer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget  # noqa: E402

from playground.experiment import NetworkSpec  # noqa: E402
from playground.insight import Column, columns  # noqa: E402
from playground.widgets.network_view import NetworkView  # noqa: E402

MAP_SIZE = 16


def network(text: str) -> list[Column]:
    """The view's columns of a stack written as NetworkSpec text, over inputs x1 and x2."""
    return columns(NetworkSpec.parse(text), ["x1", "x2"], 1)


def random_values(
    cols: list[Column], rng: np.random.Generator, size: int = MAP_SIZE
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Smooth random maps (a ramp per unit, through the column's activation) and weights."""
    g = np.linspace(-1.0, 1.0, size)
    x1, x2 = np.meshgrid(g, g)  # rows along x2, as the session's maps
    maps, weights = [], {}
    for column in cols:
        a, b, c = rng.normal(size=(3, column.units, 1, 1))
        z = a * x1 + b * x2 + c * 0.5
        if column.activation == "relu":
            z = np.maximum(z, 0)
        elif column.activation == "sigmoid":
            z = 1 / (1 + np.exp(-3 * z))
        maps.append(z.astype(np.float32))
        if column.weight_key:
            before = cols[column.index - 1].units
            weights[column.weight_key] = rng.normal(size=(column.units, before)).astype(np.float32)
            weights[column.bias_key] = rng.normal(size=column.units).astype(np.float32) * 0.5
    return maps, weights


def benchmark(rounds: int = 60) -> dict[str, float]:
    """Median and max ms of set_maps + set_weights, and of a full repaint, on an 8×25 network."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    cols = network(",".join(["linear:25,relu"] * 8) + ",linear:1,sigmoid")
    view = NetworkView()
    view.resize(1500, 950)
    view.set_structure(cols)
    view.show()
    app.processEvents()
    rng = np.random.default_rng(0)
    values = [random_values(cols, rng) for _ in range(8)]
    update, paint = [], []
    for k in range(rounds):
        maps, weights = values[k % len(values)]
        start = time.perf_counter()
        view.set_maps(maps, None)
        view.set_weights(weights)
        update.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        view.canvas.viewport().repaint()
        paint.append((time.perf_counter() - start) * 1e3)
    view.close()
    return {
        "links": float(view.link_count()),
        "update_median": statistics.median(update),
        "update_max": max(update),
        "paint_median": statistics.median(paint),
        "paint_max": max(paint),
    }


def timer_lateness(seconds: float = 4.0, size: tuple[int, int] = (900, 900)) -> dict[str, float]:
    """Worst and median lateness (ms) of a 10 ms probe timer while a 33 ms timer updates an
    8×25 network shown at ``size`` (a dock's), painting included, as while training."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    QApplication.instance() or QApplication(sys.argv[:1])
    cols = network(",".join(["linear:25,relu"] * 8) + ",linear:1,sigmoid")
    view = NetworkView()
    view.resize(*size)
    view.set_structure(cols)
    view.show()
    rng = np.random.default_rng(1)
    values = [random_values(cols, rng) for _ in range(8)]
    rounds = iter(range(10**9))

    def update() -> None:
        maps, weights = values[next(rounds) % len(values)]
        view.set_maps(maps, None)
        view.set_weights(weights)

    clock = QElapsedTimer()
    clock.start()
    late: list[float] = []
    last = [clock.elapsed()]

    def probe() -> None:
        now = clock.elapsed()
        late.append(max(0.0, now - last[0] - 10.0))
        last[0] = now

    timers = [QTimer(), QTimer()]
    timers[0].timeout.connect(update)
    timers[1].timeout.connect(probe)
    timers[0].start(33)
    timers[1].start(10)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    for timer in timers:
        timer.stop()
    view.close()
    return {"lateness_median": statistics.median(late), "lateness_max": max(late)}


def screenshot(path: str) -> None:
    """Save the seed-like network and a 256-wide one side by side, with a hovered unit."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    rng = np.random.default_rng(3)
    box = QWidget()
    row = QHBoxLayout(box)
    for text in ("linear:8,relu,linear:8,relu,linear:1,sigmoid", "linear:256,tanh,linear:1"):
        cols = network(text)
        view = NetworkView(box)
        view.set_structure(cols)
        maps, weights = random_values(cols, rng)
        view.set_maps(maps, None)
        view.set_weights(weights)
        view.set_disabled([(1, 2)])
        row.addWidget(view, 1)
    box.resize(1500, 990)
    box.show()
    for _ in range(5):
        app.processEvents()
    first = box.findChildren(NetworkView)[0]
    node = first.node_item(2, 3)
    centre = node.sceneBoundingRect().center()
    first._hover_at(centre, first.scene_to_view(centre).toPointF())
    app.processEvents()
    from playground.files import save_picture

    save_picture(box.grab(), path)
    print("wrote", path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--screenshot", metavar="PATH")
    args = parser.parse_args(argv)
    if args.screenshot:
        screenshot(args.screenshot)
        return
    result = benchmark(args.rounds)
    print(
        f"network view, 8 hidden layers x 25 units + output, {MAP_SIZE}x{MAP_SIZE} maps, "
        f"{int(result['links'])} links drawn, {args.rounds} rounds:\n"
        f"  set_maps + set_weights: median {result['update_median']:.2f} ms, "
        f"max {result['update_max']:.2f} ms\n"
        f"  full repaint:           median {result['paint_median']:.2f} ms, "
        f"max {result['paint_max']:.2f} ms"
    )
    late = timer_lateness()
    print(
        f"  10 ms probe timer lateness with 30 Hz updates (900x900 view): "
        f"median {late['lateness_median']:.1f} ms, max {late['lateness_max']:.1f} ms"
    )


if __name__ == "__main__":
    main()
