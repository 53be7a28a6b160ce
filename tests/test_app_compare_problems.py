"""The Compare window on issue 13's problems: three classes and a regression (pytest-qt).

The oracle for what a tile draws is the main plot's own colouring (``class_image`` of the
variant's class probabilities, a regression's value over the data's value range) and the
Session trained alone for its caption.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from test_app_compare import TIMEOUT, alone, open_window, set_axes, train_to_the_limit
from windows import make_window

from playground.compare import Variant
from playground.experiment import DataSpec, Experiment, NetworkSpec, TrainSpec
from playground.widgets.colours import class_image
from playground.widgets.compare_window import MAX_TILE_POINTS


def _three_classes() -> Experiment:
    network = NetworkSpec.parse("linear:8,relu,linear:3")
    data = DataSpec(dataset="spiral", classes=3, points=300)
    train = TrainSpec(batch_size=20, loss="cross_entropy", max_epochs=3)
    return Experiment(network, data, train)


def _plane() -> Experiment:
    network = NetworkSpec.parse("linear:8,tanh,linear:1")
    return Experiment(network, DataSpec(dataset="plane", points=300), TrainSpec(max_epochs=3))


def _tile_scatters(tiles, k: int) -> list[pg.ScatterPlotItem]:
    return [i for i in tiles.views[k].addedItems if isinstance(i, pg.ScatterPlotItem)]


def test_three_class_tiles_show_each_class_region_and_its_points(qtbot) -> None:
    main = make_window(qtbot, _three_classes())
    compare = open_window(qtbot, main, "compare")
    compare.values.setText("0.03, 0.3")
    compare.make_button.click()
    train_to_the_limit(qtbot, compare)
    session = compare.controller.session
    grids = session.runs.grids()
    assert grids.shape[:2] == (2, 3)  # (variants, classes, n, n)
    for k in range(2):
        drawn = compare.tiles.images[k].image
        np.testing.assert_array_equal(drawn, class_image(grids[k]))
        scatters = _tile_scatters(compare.tiles, k)
        assert len(scatters) == 3  # one colour per class
        assert sum(len(s.data) for s in scatters) == len(session.data.data_arrays().y_train)
        variant = Variant.of(main.experiment.train, learning_rate=(0.03, 0.3)[k])
        single = alone(main.experiment, variant, 3)
        assert f"acc {single.history.test_accuracy[-1]:.3f}" in compare.tiles.labels[k].text


def test_regression_tiles_show_the_value_over_the_targets_range_and_r2(qtbot) -> None:
    main = make_window(qtbot, _plane())
    compare = open_window(qtbot, main, "compare")
    compare.values.setText("0.01, 0.1")
    compare.make_button.click()
    train_to_the_limit(qtbot, compare)
    session = compare.controller.session
    arrays = session.data.data_arrays()
    grids = session.runs.grids()
    assert grids.shape[0] == 2 and grids.ndim == 3
    for k in range(2):
        image = compare.tiles.images[k]
        np.testing.assert_allclose(image.image, grids[k])  # the value itself, not a clamp
        assert tuple(image.levels) == pytest.approx(arrays.value_range())
        variant = Variant.of(main.experiment.train, learning_rate=(0.01, 0.1)[k])
        single = alone(main.experiment, variant, 3)
        assert f"R² {single.history.test_accuracy[-1]:.3f}" in compare.tiles.labels[k].text
        (scatter,) = _tile_scatters(compare.tiles, k)  # one group, coloured by target
        assert len(scatter.data) == min(len(arrays.y_train), MAX_TILE_POINTS)


def test_a_regression_sweep_averages_each_cells_test_r2(qtbot) -> None:
    import statistics

    main = make_window(qtbot, _plane())
    sweep = open_window(qtbot, main, "sweep")
    assert sweep.metric_box.currentText() == "Test R²"  # the accuracy column holds R²
    set_axes(sweep, "learning_rate", "0.01, 0.1", "weight_decay", "0")
    sweep.seeds.setValue(2)
    sweep.epochs.setValue(3)
    with qtbot.waitSignal(sweep.controller.stopped, timeout=TIMEOUT):
        sweep.run_button.click()
    assert sweep.finished
    assert sweep.heatmap.getPlotItem().titleLabel.text.startswith("Test R² after 3 epochs")
    seeds = (main.experiment.train.seed, main.experiment.train.seed + 1)
    for i, lr in enumerate((0.01, 0.1)):
        runs = [
            alone(main.experiment, Variant.of(main.experiment.train, learning_rate=lr, seed=s), 3)
            .history.test_accuracy[-1]
            for s in seeds
        ]
        mean, _, count = sweep.result.cell(i, 0)
        assert count == 2 and mean == pytest.approx(statistics.fmean(runs), abs=1e-5)
