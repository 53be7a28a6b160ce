"""Training in the worker process: accuracy, throttled snapshots, pause/resume/step/stop, the
session's hand-over (same numbers as training in-process), copies for exports, a dying worker,
and the Trainer loop itself driven without a process."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from playground.experiment import Experiment, NetworkSpec, TrainSpec
from playground.messages import Drop, Error, Fail, Idle, Lend, Lent, Play, Quit, Step, Train
from playground.session import Session, Snapshot
from playground.trainer import WORKER_NICENESS, Trainer, dumps, loads
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


def play_until_shown(qtbot, controller) -> list:
    """Play and wait for the first snapshot (the worker has trained while playing); the list
    goes on collecting every snapshot."""
    snaps = collect(controller)
    controller.play()
    qtbot.waitUntil(lambda: len(snaps) >= 1, timeout=30_000)
    return snaps


def dropout_experiment(**train) -> Experiment:
    """A network whose training draws from torch's global generator too (Dropout)."""
    network = NetworkSpec.parse("linear:16,relu,dropout:0.2,linear:16,tanh,linear:1,sigmoid")
    return Experiment(network=network, train=TrainSpec(**train))


def assert_same_weights(a: Session, b: Session) -> None:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_worker_trains_the_disk_to_093(qtbot, controller):
    exp = Experiment(train=TrainSpec(max_epochs=40))
    controller.start(Session(exp))
    snaps = collect(controller)
    with qtbot.waitSignal(controller.stopped, timeout=30_000) as blocker:
        controller.play()
    assert "epoch limit" in blocker.args[0]
    assert not controller.is_playing and controller.is_idle
    last = snaps[-1]
    assert last.epoch == 40 == controller.session.epoch  # the session came back trained
    assert last.test_accuracy >= 0.93
    assert last.grid is not None and last.grid.shape == (100, 100)
    # every epoch reached the window once, in order, however few snapshots there were
    epochs = [int(e) for s in snaps for e in s.history.epoch]
    assert epochs == list(range(1, 41))
    assert controller.worker_pid not in (None, os.getpid())
    # the worker yields the cores to the window: the GUI thread is never kept waiting for it
    niceness = os.getpriority(os.PRIO_PROCESS, controller.worker_pid)
    assert niceness == min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS)


def test_training_in_the_worker_equals_training_here(qtbot, controller):
    # play, pause, step, play again: the hand-overs lose nothing, and Dropout's draws from
    # torch's global generator travel with the session
    exp = dropout_experiment(max_epochs=60)
    controller.start(Session(exp))
    controller.step()
    qtbot.waitUntil(lambda: controller.is_idle, timeout=30_000)
    assert controller.session.epoch == 1
    play_until_shown(qtbot, controller)  # trained while playing
    controller.pause()
    with controller.locked_session() as session:
        paused_at = session.epoch
    assert 2 <= paused_at < 60
    with qtbot.waitSignal(controller.stopped, timeout=30_000):
        controller.play()
    here = Session(exp)
    here.step(60)
    assert controller.session.epoch == 60
    assert_same_weights(controller.session, here)
    assert controller.session.history.train_loss == here.history.train_loss


def test_snapshots_are_throttled_while_epochs_run_faster(qtbot, controller):
    # tiny data: hundreds of epochs a second, but at most ~30 snapshots a second
    exp = Experiment(data=replace(Experiment().data, points=40))
    controller.start(Session(exp))
    snaps = play_until_shown(qtbot, controller)
    start, first = time.perf_counter(), len(snaps)
    qtbot.wait(700)
    controller.pause()
    elapsed = time.perf_counter() - start
    qtbot.waitUntil(lambda: controller.is_idle, timeout=5000)
    assert snaps[-1].epoch == controller.session.epoch  # the last one shows where it stopped
    # +2: the snapshot in flight when the clock started and the final one at the pause
    assert len(snaps) - first <= SNAPSHOT_RATE * elapsed + 2
    assert snaps[-1].epoch > 2 * len(snaps)
    assert snaps[-1].steps_per_second > 0


def test_pause_resume_step_and_shutdown(qtbot, controller):
    controller.start(Session(Experiment()))
    snaps = collect(controller)
    controller.play()
    qtbot.waitUntil(lambda: len(snaps) >= 2, timeout=30_000)
    controller.pause()
    qtbot.waitUntil(lambda: controller.is_idle, timeout=5000)
    paused_at = controller.session.epoch
    assert snaps[-1].epoch == paused_at
    shown = len(snaps)
    qtbot.wait(150)
    assert controller.session.epoch == paused_at and len(snaps) == shown  # paused means paused

    with qtbot.waitSignal(controller.snapshot, timeout=5000) as blocker:
        controller.step()
    assert blocker.args[0].epoch == paused_at + 1
    qtbot.waitUntil(lambda: controller.is_idle, timeout=5000)
    assert controller.session.epoch == paused_at + 1

    controller.play()
    qtbot.waitUntil(lambda: snaps[-1].epoch > paused_at + 2, timeout=10_000)
    process = controller._process
    controller.shutdown()
    assert not process.is_alive() and process.exitcode == 0
    assert not controller.is_playing


def test_learning_rate_applies_live_and_copies_come_from_the_worker(qtbot, controller):
    controller.start(Session(Experiment()))
    play_until_shown(qtbot, controller)
    controller.apply_training(TrainSpec(learning_rate=0.01))

    def lr_in_worker() -> float:
        with controller.locked_session() as copy:
            return copy.optimizer.param_groups[0]["lr"]

    qtbot.waitUntil(lambda: lr_in_worker() == 0.01, timeout=5000)
    with controller.locked_session() as copy:
        assert copy.epoch >= 1 and copy is not controller.session
    assert controller.is_playing  # lending a copy does not stop training
    controller.pause()
    qtbot.waitUntil(lambda: controller.is_idle, timeout=5000)
    assert controller.session.optimizer.param_groups[0]["lr"] == 0.01


def test_settings_changed_during_a_pause_reach_the_returned_session(qtbot, controller):
    controller.start(Session(Experiment()))
    play_until_shown(qtbot, controller)
    controller.pause()
    controller.apply_training(TrainSpec(learning_rate=0.02, batch_size=25))  # before it is back
    qtbot.waitUntil(lambda: controller.is_idle, timeout=30_000)
    assert controller.session.experiment.train.batch_size == 25
    assert controller.session.optimizer.param_groups[0]["lr"] == 0.02


def test_a_dying_worker_pauses_training_and_keeps_the_session(qtbot, controller):
    controller.start(Session(Experiment()))
    play_until_shown(qtbot, controller)
    with qtbot.waitSignal(controller.stopped, timeout=10_000) as blocker:
        os.kill(controller.worker_pid, signal.SIGKILL)
    assert "training process ended unexpectedly" in blocker.args[0]
    assert not controller.is_playing and controller.is_idle
    assert controller.session is not None and controller.session.epoch == 0  # as handed over
    with qtbot.waitSignal(controller.stopped, timeout=30_000):  # a new worker trains on
        controller.apply_training(TrainSpec(max_epochs=2))
        controller.play()
    assert controller.session.epoch == 2


def test_a_worker_that_cannot_start_says_so(qtbot, controller, monkeypatch):
    import multiprocessing.process

    def refuse(self):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
    controller.start(Session(Experiment()))
    with qtbot.waitSignal(controller.stopped, timeout=5000) as blocker:
        controller.play()
    assert "could not start the training process" in blocker.args[0]
    assert "Too many open files" in blocker.args[0]
    assert not controller.is_playing and controller.is_idle


class Unloadable:
    """Pickles fine here; unpickling it anywhere raises (int("not a number"))."""

    def __reduce__(self):
        return (int, ("not a number",))


def test_a_worker_that_cannot_read_the_session_ends_and_says_why(qtbot, controller):
    session = Session(Experiment())
    session.extra = Unloadable()
    controller.start(session)
    with qtbot.waitSignal(controller.stopped, timeout=30_000) as blocker:
        controller.play()
    reason = blocker.args[0]
    assert "training process stopped" in reason and "could not read" in reason
    assert "ValueError" in reason and "epoch 0" in reason
    assert not controller.is_playing and controller.is_idle and controller.session is session
    assert controller.worker_pid is None  # gone; the next Play starts a new one


def test_a_worker_that_stops_answering_is_given_up(qtbot, controller, monkeypatch):
    monkeypatch.setattr("playground.worker.WAIT_LIMIT", 1.0)
    controller.start(Session(Experiment()))
    play_until_shown(qtbot, controller)
    process = controller._process
    os.kill(process.pid, signal.SIGSTOP)  # alive, but answers nothing
    stopped = []
    controller.stopped.connect(stopped.append)
    start = time.perf_counter()
    with controller.locked_session() as session:  # an export while training
        assert session is controller.session and session.epoch == 0  # the window's own copy
    assert time.perf_counter() - start < 5.0
    assert stopped and "did not answer for 1 s" in stopped[0]
    process.join(5.0)
    assert not process.is_alive()  # killed, not left stopped
    assert not controller.is_playing and controller.is_idle


def test_a_step_while_one_is_on_its_way_is_ignored(qtbot, controller):
    controller.start(Session(Experiment()))
    controller.step()
    controller.step()  # the first has not come back yet: nothing queues up behind it
    controller.step()
    qtbot.waitUntil(lambda: controller.is_idle, timeout=30_000)
    qtbot.wait(100)
    assert controller.is_idle and controller.session.epoch == 1


def test_shutdown_mid_epoch_is_quick(qtbot, controller):
    exp = Experiment(data=replace(Experiment().data, points=20_000))  # long epochs
    controller.start(Session(exp))
    play_until_shown(qtbot, controller)  # in the middle of the next one
    start = time.perf_counter()
    controller.shutdown()
    assert time.perf_counter() - start < 2.0


# -- the Trainer loop, without a process --------------------------------------------------------


class Script:
    """Runs a Trainer on a thread of this process; what it sends arrives in ``sent``."""

    def __init__(self) -> None:
        import threading

        self.sent: list = []
        self.trainer = Trainer(lambda m: self.sent.append(loads(dumps(m))), max_rate=1000)
        self.thread = threading.Thread(target=self.trainer.run)
        self.thread.start()

    def count(self, kind: type) -> int:
        return sum(isinstance(m, kind) for m in self.sent)

    def wait_for(self, kind: type, count: int = 1):
        deadline = time.monotonic() + 30
        while self.count(kind) < count:
            assert time.monotonic() < deadline, f"no {kind.__name__} message: {self.sent}"
            time.sleep(0.005)
        return [m for m in self.sent if isinstance(m, kind)][count - 1]

    def quit(self) -> None:
        self.trainer.command(Quit())
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_trainer_steps_one_epoch_and_hands_the_session_back():
    script = Script()
    session = Session(Experiment())
    script.trainer.command(Step(session))
    idle = script.wait_for(Idle)
    session_id, back, reason, diverged = idle.session_id, idle.session, idle.reason, idle.diverged
    script.quit()
    assert (session_id, reason, diverged) == (session.session_id, None, False)
    here = Session(Experiment())
    here.step()
    assert back.epoch == 1
    assert_same_weights(back, here)
    [snap] = [m for m in script.sent if isinstance(m, Snapshot)]
    assert snap.epoch == 1 and list(snap.history.epoch) == [1]
    # the worker sends the weights; the window draws the grid from them on its own core
    assert snap.grid is None
    np.testing.assert_array_equal(here.decision_grid(snap.weights), here.decision_grid())


def test_trainer_lends_copies_drops_and_reports_bad_settings():
    script = Script()
    script.trainer.command(Play(Session(Experiment())))
    script.wait_for(Snapshot)
    script.trainer.command(Lend(7))
    lent = script.wait_for(Lent)
    token, copy = lent.token, lent.session
    assert token == 7 and copy.epoch >= 1
    bad = TrainSpec(batch_size=0)
    script.trainer.command(Train(bad))
    idle = script.wait_for(Idle)
    back, reason = idle.session, idle.reason
    assert "could not be used" in reason and "batch" in reason.lower()
    assert back.experiment.train.batch_size == TrainSpec().batch_size  # the run is kept
    # Drop forgets a session mid-run: nothing more comes of it
    script.trainer.command(Play(back))
    script.wait_for(Snapshot, count=script.count(Snapshot) + 1)
    script.trainer.command(Drop())
    script.trainer.command(Lend(8))
    assert script.wait_for(Lent, count=2).session is None
    script.quit()
    assert script.count(Idle) == 1


def test_trainer_ends_with_an_error_message_when_a_message_fails():
    script = Script()
    script.trainer.command(Fail("it could not read the window's message (ValueError: x)"))
    script.thread.join(10)
    assert not script.thread.is_alive()
    assert script.sent == [Error("it could not read the window's message (ValueError: x)")]


def test_each_session_keeps_its_own_dropout_stream():
    exp = dropout_experiment()
    alone = Session(exp)
    alone.step(4)
    a, other = Session(exp), Session(replace(exp, train=TrainSpec(seed=5)))
    a.step(2)
    other.step(3)  # draws from torch's global generator in between
    torch.manual_seed(99)
    a.step(2)
    assert_same_weights(a, alone)
    # unpickling a session (a copy lent by the worker, a stale message) touches nothing here
    state = torch.get_rng_state()
    loads(dumps(other))
    assert torch.equal(state, torch.get_rng_state())


def test_a_session_pickles_and_trains_on_identically():
    a = Session(dropout_experiment())
    a.step(2)
    blob = dumps(a)
    before = torch.get_rng_state()
    a.step(3)
    assert not torch.equal(before, torch.get_rng_state())  # Dropout did draw from it
    torch.manual_seed(123)  # whatever happens to the global generator in between
    b = loads(blob)
    b.step(3)
    assert_same_weights(a, b)
    assert a.history.test_loss == b.history.test_loss
