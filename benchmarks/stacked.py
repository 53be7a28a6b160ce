"""Issue 14's speed: M stacked seed networks against one minidl model, a loop of torch models and
torch.func's ensembling; and seed 000's Table I as a stacked sweep against the runs one by one.

Every contender takes the same steps: the seeds' 2-25-25-25-1 network (ReLU, Sigmoid, MSE, plain
SGD), batches of 50 points of the disk, one batch per model per step (the stacked models each
their own). Times are CPU seconds of this process, interleaved round-robin (``common.interleaved``)
with one torch thread, and each ratio is the median over rounds of the ratio within a round (the
machine is shared: its speed drifts within seconds); a model-step is one model's forward, loss,
backward and update.

- minidl, one model: ``fit``'s step (``minidl.fast.TrainStep``) and the eager step
- minidl, M stacked: ``fit``'s step on ``nn.stack`` of M models (per-model learning rates)
- PyTorch, a loop of M models: ``torch.nn`` + autograd + ``torch.optim.SGD``, one after another
- PyTorch, torch.func: ``stack_module_state`` + ``vmap(functional_call)``, torch autograd,
  ``torch.optim.SGD`` over the stacked parameters

    python -m benchmarks.stacked [--models 40] [--steps 200] [--repeats 7] [--table1] [--alone]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable

import torch

import minidl
from minidl import nn, optim, sweep
from minidl.fast import TrainStep
from minidl.fast.step import eager_step
from minidl.nn.stack import PerModelLoss

from .common import interleaved, machine_summary, markdown_table, median

BATCH = 50
POOL = 20  # distinct batches cycled through (a fresh permutation's slices, as an epoch has)


def seed_models(count: int) -> list[nn.Sequential]:
    """``count`` seed networks, model k from seed k."""
    models = []
    for k in range(count):
        minidl.train.seed_everything(k)
        models.append(sweep.seed_network(k))
    return models


def batches(models: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """POOL batches of (models, BATCH, 2) points and (models, BATCH, 1) 0/1 targets."""
    out = []
    for i in range(POOL):
        xs, ys = [], []
        for k in range(models):
            x, y = minidl.data.disk(BATCH, seed=1000 * i + k)
            xs.append(x)
            ys.append(y.float().unsqueeze(1))
        out.append((torch.stack(xs), torch.stack(ys)))
    return out


def learning_rates(models: int) -> list[float]:
    return [0.01 + 0.09 * k / max(1, models - 1) for k in range(models)]


def minidl_single(steps: int, data, fast: bool) -> Callable[[], float]:
    """Seconds for ``steps`` steps of one minidl model (model 0's batches)."""
    model = seed_models(1)[0]
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    if fast:
        step = TrainStep(model, loss_fn, opt)
    else:
        def step(x, y):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    pool = [(x[0].contiguous(), y[0].contiguous()) for x, y in data]

    def run() -> float:
        start = time.process_time()
        for i in range(steps):
            step(*pool[i % POOL])
        return time.process_time() - start

    return run


def minidl_stacked(steps: int, data, models: int, fast: bool) -> Callable[[], float]:
    """Seconds for ``steps`` steps of ``models`` stacked minidl models (fit_stacked's step)."""
    stacked = nn.stack(seed_models(models))
    opt = optim.SGD(stacked.parameters(), lr=learning_rates(models))
    loss_fn = PerModelLoss(nn.MSELoss(), models)
    if fast:
        step = TrainStep(stacked, loss_fn, opt)
        assert step.fast, "the stacked step should run fast"
    else:
        def step(x, y):
            return eager_step(stacked, loss_fn, opt, x, y)

    def run() -> float:
        start = time.process_time()
        for i in range(steps):
            step(*data[i % POOL])
        return time.process_time() - start

    return run


def torch_network() -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(2, 25), torch.nn.ReLU(), torch.nn.Linear(25, 25), torch.nn.ReLU(),
        torch.nn.Linear(25, 25), torch.nn.ReLU(), torch.nn.Linear(25, 1), torch.nn.Sigmoid(),
    )


def torch_loop(steps: int, data, models: int) -> Callable[[], float]:
    """Seconds for ``steps`` rounds of one step of each of ``models`` torch models in turn."""
    torch.manual_seed(0)
    nets = [torch_network() for _ in range(models)]
    opts = [torch.optim.SGD(n.parameters(), lr=lr) for n, lr in zip(nets, learning_rates(models),
                                                                      strict=True)]
    loss_fn = torch.nn.MSELoss()
    pool = [([x[k] for k in range(models)], [y[k] for k in range(models)]) for x, y in data]

    def run() -> float:
        start = time.process_time()
        for i in range(steps):
            xs, ys = pool[i % POOL]
            for net, opt, x, y in zip(nets, opts, xs, ys, strict=True):
                loss = loss_fn(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return time.process_time() - start

    return run


def torch_func(steps: int, data, models: int) -> Callable[[], float]:
    """Seconds for ``steps`` steps of torch.func's ensemble of ``models`` torch models."""
    from torch.func import functional_call, stack_module_state, vmap

    torch.manual_seed(0)
    nets = [torch_network() for _ in range(models)]
    params, buffers = stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    ensemble = vmap(one)
    opt = torch.optim.SGD(list(params.values()), lr=0.1)

    def run() -> float:
        start = time.process_time()
        for i in range(steps):
            x, y = data[i % POOL]
            out = ensemble(params, buffers, x)
            # each model's mean squared error, summed: each model's gradient is its own
            loss = ((out - y) ** 2).mean(dim=(1, 2)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return time.process_time() - start

    return run


def speed(models: int, steps: int, repeats: int) -> tuple[str, dict[str, float]]:
    """The step-time table and the ratios issue 14 asks for."""
    data = batches(models)
    runs = {
        "minidl, 1 model (fit's step)": (1, minidl_single(steps, data, fast=True)),
        "minidl, 1 model (eager step)": (1, minidl_single(steps, data, fast=False)),
        f"minidl, {models} stacked (fit's step)": (models, minidl_stacked(steps, data, models,
                                                                          fast=True)),
        f"minidl, {models} stacked (eager step)": (models, minidl_stacked(steps, data, models,
                                                                          fast=False)),
        f"PyTorch, loop of {models} models": (models, torch_loop(steps, data, models)),
        f"PyTorch, torch.func ensemble of {models}": (models, torch_func(steps, data, models)),
    }
    times = interleaved({name: run for name, (_, run) in runs.items()}, repeats)
    step_us = {name: median(t) / steps * 1e6 for name, t in times.items()}
    rate = {name: runs[name][0] / (step_us[name] * 1e-6) for name in runs}

    def faster(a: str, b: str) -> float:
        """How many times a's model-steps per second b's are: the median over rounds."""
        return median([runs[a][0] / ta * tb / runs[b][0]
                       for ta, tb in zip(times[a], times[b], strict=True)])

    rows = []
    for name in runs:
        spread = statistics.pstdev(times[name]) / median(times[name]) if repeats > 1 else 0.0
        rows.append([name, f"{step_us[name]:,.0f} µs", f"±{spread:.0%}", f"{rate[name]:,.0f}"])
    table = markdown_table(["contender", "step (median)", "spread", "model-steps/s"], rows)
    stacked = f"minidl, {models} stacked (fit's step)"
    single, func = "minidl, 1 model (fit's step)", f"PyTorch, torch.func ensemble of {models}"
    ratios = {
        "stacked / one model (fit's step)": faster(stacked, single),
        "stacked / one model (eager step)": faster(stacked, "minidl, 1 model (eager step)"),
        "stacked step / single step (fit's)": models / faster(stacked, single),
        "stacked / PyTorch loop": faster(stacked, f"PyTorch, loop of {models} models"),
        "stacked / torch.func": faster(stacked, func),
        "eager stacked / torch.func": faster(f"minidl, {models} stacked (eager step)", func),
    }
    return table, ratios


def table1(alone: bool) -> list[str]:
    """Seed 000's Table I as one sweep (timed), and with ``alone`` each run one by one too."""
    lines = []
    start, cpu = time.perf_counter(), time.process_time()
    runs = sweep.run_grid()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    lines.append(f"Table I stacked: {len(runs)} runs in {wall:.1f} s wall, {cpu:.1f} s CPU "
                 f"(torch threads {torch.get_num_threads()})")
    if alone:
        start = time.perf_counter()
        loss_diff, same_accuracy = 0.0, 0
        for r in runs:
            x, y, x_test, y_test = sweep.disk_data(r.seed)
            generator = minidl.train.seed_everything(r.seed)
            model = sweep.seed_network(r.seed)
            opt = optim.SGD(model.parameters(), lr=r.learning_rate)
            minidl.train.fit(model, nn.MSELoss(), opt, (x, y), 100, r.batch_size,
                             generator=generator, metrics=False)
            loss, acc = minidl.train.evaluate(model, nn.MSELoss(), (x_test, y_test))
            loss_diff = max(loss_diff, abs(loss - r.test_loss))
            same_accuracy += acc == r.test_accuracy
        lines.append(f"Table I one run at a time: {time.perf_counter() - start:.1f} s wall; "
                     f"{same_accuracy} of {len(runs)} test accuracies identical, test losses "
                     f"within {loss_diff:.1e}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stacked", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=int, default=40, help="stacked models (40)")
    p.add_argument("--steps", type=int, default=200, help="steps per timed run (200)")
    p.add_argument("--repeats", type=int, default=7, help="timed runs per contender (7)")
    p.add_argument("--table1", action="store_true", help="also time seed 000's Table I sweep")
    p.add_argument("--alone", action="store_true", help="with --table1: also run it one by one")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        args.models, args.steps, args.repeats = 3, 3, 1
    table, ratios = speed(args.models, args.steps, args.repeats)
    print(machine_summary())
    print()
    print(table)
    print()
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}×")
    if args.table1:
        for line in table1(args.alone):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
