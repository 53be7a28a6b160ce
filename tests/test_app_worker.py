"""Training on the worker thread: accuracy, throttled snapshots, pause/resume/step/stop, closing."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from playground.experiment import Experiment, TrainSpec
from playground.session import Session
from playground.worker import SNAPSHOT_RATE, TrainingController


@pytest.fixture
def controller(qtbot):
    ctrl = TrainingController()
    yield ctrl
    ctrl.shutdown()


def collect(controller) -> list:
    snaps: list = []
    controller.snapshot.connect(snaps.append)
    return snaps


def test_worker_trains_the_disk_to_093(qtbot, controller):
    exp = Experiment(train=TrainSpec(max_epochs=40))
    controller.start(Session(exp))
    snaps = collect(controller)
    with qtbot.waitSignal(controller.stopped, timeout=30_000) as blocker:
        controller.play()
    assert "epoch limit" in blocker.args[0]
    assert not controller.is_playing
    last = snaps[-1]
    assert last.epoch == 40
    assert last.test_accuracy >= 0.93
    assert last.grid is not None and last.grid.shape == (100, 100)
    # every epoch reached the window once, in order, however few snapshots there were
    epochs = [int(e) for s in snaps for e in s.history.epoch]
    assert epochs == list(range(1, 41))


def test_snapshots_are_throttled_while_epochs_run_faster(qtbot, controller):
    # tiny data: hundreds of epochs a second, but at most ~30 snapshots a second
    exp = Experiment(data=replace(Experiment().data, points=40))
    controller.start(Session(exp))
    snaps = collect(controller)
    controller.play()
    start = time.perf_counter()
    qtbot.wait(700)
    controller.pause()
    elapsed = time.perf_counter() - start
    qtbot.waitUntil(lambda: controller.is_idle, timeout=5000)
    qtbot.waitUntil(lambda: snaps[-1].epoch == controller.session.epoch, timeout=5000)
    assert len(snaps) <= SNAPSHOT_RATE * elapsed + 3
    assert snaps[-1].epoch > 2 * len(snaps)
    assert snaps[-1].steps_per_second > 0


def test_pause_resume_step_and_stop(qtbot, controller):
    controller.start(Session(Experiment()))
    snaps = collect(controller)
    controller.play()
    qtbot.waitUntil(lambda: len(snaps) >= 2, timeout=10_000)
    controller.pause()
    qtbot.waitUntil(lambda: controller.is_idle, timeout=5000)
    paused_at = controller.session.epoch
    qtbot.waitUntil(lambda: snaps[-1].epoch == paused_at, timeout=5000)
    qtbot.wait(150)
    assert controller.session.epoch == paused_at  # paused means paused

    with qtbot.waitSignal(controller.snapshot, timeout=5000) as blocker:
        controller.step()
    assert blocker.args[0].epoch == paused_at + 1

    controller.play()
    qtbot.waitUntil(lambda: snaps[-1].epoch > paused_at + 2, timeout=10_000)
    thread = controller._thread
    controller.shutdown()
    assert not thread.isRunning()
    assert not controller.is_playing


def test_learning_rate_applies_live(qtbot, controller):
    controller.start(Session(Experiment()))
    snaps = collect(controller)
    controller.play()
    qtbot.waitUntil(lambda: len(snaps) >= 1, timeout=10_000)
    controller.apply_training(TrainSpec(learning_rate=0.01))
    qtbot.waitUntil(
        lambda: controller.session.optimizer.param_groups[0]["lr"] == 0.01, timeout=5000
    )


def test_shutdown_mid_epoch_is_quick(qtbot, controller):
    exp = Experiment(data=replace(Experiment().data, points=20_000))  # long epochs
    controller.start(Session(exp))
    controller.play()
    qtbot.wait(100)
    start = time.perf_counter()
    controller.shutdown()
    assert time.perf_counter() - start < 1.0
