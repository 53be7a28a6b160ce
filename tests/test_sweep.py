"""Sweeps (minidl.sweep): a grid trained stacked gives each run exactly its run trained alone."""

from __future__ import annotations

import csv
import io
import math
import statistics

import pytest
import torch

import minidl
from minidl import nn, optim, sweep
from minidl.train import accuracy, evaluate, fit, predict, seed_everything


def _network(dtype: torch.dtype):
    def build(seed: int) -> nn.Sequential:
        model = sweep.seed_network(seed)
        return model.double() if dtype == torch.float64 else model
    return build


def _data(points: int, dtype: torch.dtype):
    def make(seed: int):
        return tuple(t.to(dtype) for t in sweep.disk_data(seed, points))
    return make


def _alone(lr, batch, wd, seed, epochs, build, make, optimizer="sgd", momentum=0.9):
    """The oracle: one run as fit trains it on its own, and its final test loss and accuracy."""
    x, y, x_test, y_test = make(seed)
    generator = seed_everything(seed)
    model = build(seed)
    if optimizer == "adam":
        opt = optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    else:
        opt = optim.SGD(model.parameters(), lr=lr, weight_decay=wd,
                        momentum=momentum if optimizer == "sgd_momentum" else 0.0)
    history = fit(model, nn.MSELoss(), opt, (x, y), epochs, batch, generator=generator,
                  metrics=False)
    loss, acc = evaluate(model, nn.MSELoss(), (x_test, y_test))
    return model, history, loss, acc


@pytest.mark.parametrize(
    ("dtype", "tolerance", "optimizer"),
    [(torch.float64, 1e-10, "sgd"), (torch.float32, 1e-5, "sgd"),
     (torch.float64, 1e-10, "sgd_momentum"), (torch.float64, 1e-10, "adam")],
)
def test_every_run_of_a_grid_equals_that_run_trained_alone(dtype, tolerance, optimizer) -> None:
    lrs, batches, wds, seeds = (0.05, 0.3), (16, 40), (0.0, 0.01), (0, 3)
    if optimizer == "adam":
        lrs = (0.001, 0.01)
    build, make = _network(dtype), _data(80, dtype)
    runs = sweep.run_grid(lrs, batches, wds, seeds, epochs=6, build_model=build,
                          make_data=make, optimizer=optimizer, keep_weights=True)
    assert [(r.batch_size, r.learning_rate, r.weight_decay, r.seed) for r in runs] == [
        (b, lr, wd, s) for b in batches for lr in lrs for wd in wds for s in seeds
    ]
    for r in runs:
        model, history, loss, acc = _alone(r.learning_rate, r.batch_size, r.weight_decay, r.seed,
                                           6, build, make, optimizer)
        for name, w in model.state_dict().items():
            assert r.state_dict[name].dtype == dtype
            torch.testing.assert_close(r.state_dict[name], w, rtol=0, atol=tolerance)
        assert r.test_loss == pytest.approx(loss, abs=tolerance)
        assert r.test_accuracy == acc  # the same predictions, far from the threshold
        assert r.history.train_loss == pytest.approx(history.train_loss, abs=tolerance)
        assert r.train_loss == r.history.train_loss[-1]
        assert r.stop_reason is None and not r.diverged


def test_a_stack_per_batch_size_and_max_stack_splits_them_alike() -> None:
    kwargs = dict(epochs=3, make_data=_data(60, torch.float64), build_model=_network(
        torch.float64))
    whole = sweep.run_grid((0.1, 0.2, 0.4), (20,), (0.0,), (0, 1, 2), **kwargs)
    split = sweep.run_grid((0.1, 0.2, 0.4), (20,), (0.0,), (0, 1, 2), max_stack=4, **kwargs)
    assert [r.test_loss for r in whole] == pytest.approx([r.test_loss for r in split], abs=1e-12)
    assert [r.test_accuracy for r in whole] == [r.test_accuracy for r in split]


def test_progress_counts_run_epochs_and_a_stop_returns_the_finished_stacks() -> None:
    seen = []
    stop_after = 2 * 2 * 3  # the first stack's runs (2 lrs × 2 seeds) times 3 epochs
    runs = sweep.run_grid(
        (0.1, 0.2), (10, 20, 30), (0.0,), (0, 1), epochs=3, make_data=_data(30, torch.float32),
        progress=lambda done, total: seen.append((done, total)),
        should_stop=lambda: bool(seen) and seen[-1][0] > stop_after,
    )
    assert seen[0] == (4, 36)
    assert [d for d, _ in seen] == list(range(4, 4 * len(seen) + 1, 4))
    assert {r.batch_size for r in runs} == {10}  # the second stack was stopped mid-way
    assert len(runs) == 4

    seen.clear()
    runs = sweep.run_grid((0.1,), (10, 20), (0.0,), (0,), epochs=2,
                          make_data=_data(30, torch.float32),
                          progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4) and len(runs) == 2


def test_a_diverging_run_is_marked_and_the_others_train_on() -> None:
    runs = sweep.run_grid((0.1, 1e6), (10,), (0.0,), (0,), epochs=3,
                          build_model=lambda s: nn.Sequential(nn.Linear(2, 4), nn.ReLU(),
                                                              nn.Linear(4, 1)),
                          make_data=_data(40, torch.float32))
    calm, wild = runs
    assert not calm.diverged and math.isfinite(calm.test_loss)
    assert wild.diverged and "diverged" in wild.stop_reason
    cell = sweep.summarize(runs)[1]
    assert cell.diverged == 1 and "(1 diverged)" in sweep.markdown([cell])


def test_the_grid_and_its_data_are_checked_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="learning_rates is empty"):
        sweep.run_grid((), (10,))
    with pytest.raises(ValueError, match="batch sizes must be positive"):
        sweep.run_grid((0.1,), (0,))
    with pytest.raises(ValueError, match="repeats a value"):
        sweep.run_grid((0.1, 0.1), (10,))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        sweep.run_grid((0.1,), (10,), optimizer="rmsprop")

    def uneven(seed):
        return sweep.disk_data(seed, 20 + seed)

    with pytest.raises(ValueError, match=r"make_data\(1\) gives shapes .* make_data\(0\)"):
        sweep.run_grid((0.1,), (10,), seeds=(0, 1), epochs=1, make_data=uneven)


def _runs(values):
    """RunResults with given (lr, batch, seed, accuracy, loss) for the summaries' tests."""
    return [
        sweep.RunResult(learning_rate=lr, batch_size=b, weight_decay=0.0, seed=s,
                        test_loss=loss, test_accuracy=acc, train_loss=loss,
                        history=minidl.train.History())
        for lr, b, s, acc, loss in values
    ]


def test_summaries_give_mean_and_sample_sd_per_setting() -> None:
    runs = _runs([(0.1, 50, 0, 0.9, 0.1), (0.1, 50, 1, 0.8, 0.3), (0.1, 50, 2, 0.7, 0.2),
                  (0.5, 50, 0, 0.6, 0.4), (0.1, 10, 0, 0.5, 0.5), (0.1, 10, 1, 0.55, 0.45)])
    cells = sweep.summarize(runs)
    assert [(c.learning_rate, c.batch_size, c.runs) for c in cells] == [
        (0.1, 10, 2), (0.1, 50, 3), (0.5, 50, 1)]
    c = cells[1]
    assert c.test_accuracy == pytest.approx((0.8, statistics.stdev([0.9, 0.8, 0.7])))
    assert c.test_loss == pytest.approx((0.2, 0.1))
    assert cells[2].test_accuracy == (0.6, 0.0)  # one run: sd 0

    rows, cols, means, sds = sweep.heatmap_grid(cells, "learning_rate", "batch_size")
    assert rows == [0.1, 0.5] and cols == [10, 50]
    assert means[0, 1].item() == pytest.approx(0.8) and sds[0, 0].item() == pytest.approx(
        statistics.stdev([0.5, 0.55]))
    assert math.isnan(means[1, 0].item())  # lr 0.5 was not run at batch 10

    table = sweep.markdown(cells)
    assert "| 0.1           | 50         | 0  | 3    | 0.800 ± 0.100 | 0.2000 ± 0.1000 |" in table
    parsed = list(csv.DictReader(io.StringIO(sweep.csv_text(cells))))
    assert float(parsed[1]["test_accuracy_sd"]) == pytest.approx(0.1)
    assert parsed[2]["runs"] == "1" and parsed[2]["batch_size"] == "50"


def test_a_heatmap_over_a_third_varying_axis_is_refused() -> None:
    cells = sweep.summarize(_runs([(0.1, 50, 0, 0.9, 0.1)]) + [
        sweep.RunResult(0.1, 50, 0.01, 0, 0.2, 0.8, 0.2, minidl.train.History())])
    with pytest.raises(ValueError, match="also vary in L2"):
        sweep.heatmap_grid(cells, "learning_rate", "batch_size")
    with pytest.raises(ValueError, match="both 'batch_size'"):
        sweep.heatmap_grid(cells, "batch_size", "batch_size")


def test_write_heatmap_writes_a_png_with_a_cell_per_setting(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    cells = sweep.summarize(_runs([(0.1, 50, 0, 0.9, 0.1), (0.1, 10, 0, 0.6, 0.3),
                                   (0.5, 50, 0, 0.7, 0.2), (0.5, 10, 0, 0.95, 0.05)]))
    path = tmp_path / "map.png"
    sweep.write_heatmap(cells, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]  # no temporary left behind


def test_the_command_line_prints_the_table_and_writes_md_csv_png(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    code = sweep.main(["--lr", "0.1", "0.5", "--batch-size", "10", "20", "--seeds", "2",
                       "--epochs", "2", "--points", "30", "--quiet", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr()
    assert out.out.count("\n") == 2 + 4  # header, rule, a row per setting
    assert "8 runs of 2 epochs" in out.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.csv", "sweep.md", "sweep.png"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "sweep.csv").read_text())))
    last = rows[-1]  # lr 0.5, batch 20: the mean of seeds 0 and 1 trained alone
    accuracies = [_alone(0.5, 20, 0.0, s, 2, sweep.seed_network,
                         lambda s: sweep.disk_data(s, 30))[3] for s in (0, 1)]
    assert (float(last["learning_rate"]), last["batch_size"], last["runs"]) == (0.5, "20", "2")
    assert float(last["test_accuracy_mean"]) == pytest.approx(statistics.fmean(accuracies))
    assert "![heatmap](sweep.png)" in (tmp_path / "sweep.md").read_text()


def test_the_command_line_refuses_bad_values_without_a_traceback(capsys) -> None:
    for argv in (["--lr", "0"], ["--batch-size", "ten"], ["--weight-decay", "-1"]):
        with pytest.raises(SystemExit) as e:
            sweep.main(argv)
        assert e.value.code == 2
        assert "error: argument" in capsys.readouterr().err
    assert sweep.main(["--lr", "0.1", "--batch-size", "10", "--out", "x", "--quiet"]) == 2
    assert "two axes" in capsys.readouterr().err


def test_predict_of_a_stack_is_each_models_prediction() -> None:
    # the sweep's final metrics rest on this: model k of the stack predicts as model k alone
    models = [sweep.seed_network(k) for k in range(3)]
    x = torch.rand(3, 20, 2)
    out = predict(nn.stack(models), x)
    for k, model in enumerate(models):
        torch.testing.assert_close(out[k], predict(model, x[k]), rtol=0, atol=1e-6)
        assert accuracy(out[k], (x[k, :, :1] > 0.5).float()) == accuracy(
            predict(model, x[k]), (x[k, :, :1] > 0.5).float())
