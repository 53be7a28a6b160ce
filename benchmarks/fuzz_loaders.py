"""Hostile and broken files against every loader the app has (issue 16): a seeded fuzzer.

``python -m benchmarks.fuzz_loaders [--cases N] [--seed S] [--loader NAME] [--write]``

Each case makes one file from a valid one (mutated bytes, a mutated safetensors header or
metadata, mutated architecture or experiment JSON, mutated CSV rows, NaN weights, another dtype,
an architecture far too large) or names a special file (a named pipe, ``/dev/zero``, a folder,
a symlink loop, a name too long, a sparse file over the size limit), calls the loader and sorts
the outcome:

- loaded: the loader returned (the mutation left a valid file);
- refused: the loader raised its documented error class with the file's name in the message;
- wrong: anything else: another exception (RecursionError, MemoryError, an allocator error,
  OSError, ValueError, ``_csv.Error``...), a message that does not name the file, or a case
  over the time bound (a hang is cut by an alarm) or the memory bound (an address-space limit
  turns a memory bomb into a MemoryError, which counts as wrong).

tests/test_hostile_files.py runs a few hundred cases per loader; this script runs many more and
``--write`` records the counts in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import random
import resource
import signal
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import minidl
from minidl import nn
from minidl.io import MAX_FILE_BYTES as MODEL_MAX_BYTES
from minidl.io import ModelFileError
from playground.document import ExperimentFileError, read_experiment
from playground.experiment import MAX_FILE_BYTES as EXPERIMENT_MAX_BYTES
from playground.experiment import DataSpec, Experiment, dump_experiment
from playground.pointfile import MAX_FILE_BYTES as POINTS_MAX_BYTES
from playground.pointfile import PointsFileError, points_to_csv, read_points_file

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
CASE_SECONDS = 10.0
"""A case taking longer is a hang: cut by an alarm and counted wrong."""
MEMORY_HEADROOM = 1536 * 2**20
"""Address space a case may take beyond what the process had (a larger allocation fails)."""


class CaseTimeout(BaseException):
    """Raised by the alarm in a case that ran over CASE_SECONDS (a BaseException, so no
    loader's ``except Exception`` can swallow it)."""


@dataclass
class Report:
    """The outcomes of one loader's cases."""

    loader: str
    cases: int = 0
    loaded: int = 0
    refused: int = 0
    wrong: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    slowest: float = 0.0
    seconds: float = 0.0
    peak_rss_growth_mb: float = 0.0


# ---------------------------------------------------------------------------------------------
# Valid files to start from
# ---------------------------------------------------------------------------------------------


def _models() -> list[nn.Module]:
    torch.manual_seed(0)
    return [
        nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1),
                      nn.Sigmoid()),
        nn.Sequential(nn.Features(["x1", "x2", "x1*x2"]), nn.Linear(3, 4), nn.LeakyReLU(0.2),
                      nn.Dropout(0.1), nn.Linear(4, 2)).double(),
        nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.ConvTranspose2d(2, 1, 2, stride=2), nn.Upsample(2), nn.Flatten()),
        nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.Sigmoid()), nn.Identity()),
    ]


def _experiments() -> list[str]:
    from playground.experiment import SavedWeights

    with_points = Experiment(data=DataSpec().with_point(0.2, 0.3, 1).with_point(0.7, 0.1, 0))
    weights = SavedWeights(
        3, {"0.weight": [[0.5, -0.25]] * 25, "0.bias": [0.0] * 25, **{
            f"{i}.weight": [[0.1] * 25] * (25 if i < 6 else 1) for i in (2, 4, 6)
        }, **{f"{i}.bias": [0.0] * (25 if i < 6 else 1) for i in (2, 4, 6)}},
    )
    examples = Path(__file__).resolve().parent.parent / "playground" / "resources" / "examples"
    return [
        dump_experiment(Experiment()),
        dump_experiment(with_points),
        dump_experiment(Experiment(), weights),
        *(p.read_text(encoding="utf-8") for p in sorted(examples.glob("*.json"))),
    ]


def _csvs(rng: random.Random) -> list[str]:
    rows = [(rng.uniform(-5, 5), rng.uniform(-5, 5), rng.randint(0, 1), rng.random() < 0.5)
            for _ in range(40)]
    full = points_to_csv(rows)
    plain = "\n".join(f"{x1},{x2},{label}" for x1, x2, label, _ in rows) + "\n"
    return [full, plain, "x1,x2,label\r\n" + plain.replace("\n", "\r\n"), "# mine\n" + full]


# ---------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------

HUGE_INT, DEEP = "@@huge-int@@", "@@deep@@"
NASTY: list[Any] = [
    0, -1, 1, 2, 3, 2**31, 2**63, 10**30, 50000, -50000, 1.5, -0.0, 1e308, float("nan"),
    float("inf"), "", "x" * 1000, "²", "١٢", "1e999", "nan", True, False, None, [], {},
    [1, 2], [[1]], {"type": "MSELoss"}, {"type": "Sequential", "layers": []}, HUGE_INT, DEEP,
    "Linear", "Sequential", "CrossEntropyLoss", "Module", "Parameter", "__class__",
    "torch.float16", "F16", "I64", "BOOL", "train", "test", "relu", "linear", "x1^2",
]
LAYER_TYPES = ["Linear", "ReLU", "Sequential", "MSELoss", "BCELoss", "L1Loss",
               "CrossEntropyLoss", "Module", "Parameter", "ShapeError", "StateDictError",
               "Conv2d", "Features", "Softmax", "", "linear", "os.system"]


def _nasty(rng: random.Random) -> Any:
    return rng.choice(NASTY)


def _json_text(value: Any, rng: random.Random) -> str:
    text = json.dumps(value, allow_nan=True, ensure_ascii=rng.random() < 0.5)
    text = text.replace(json.dumps(HUGE_INT), "1" * rng.choice([4301, 5000, 100_000]))
    depth = rng.choice([50, 900, 5000, 200_000])
    return text.replace(json.dumps(DEEP), "[" * depth + "]" * depth)


def _nodes(value: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:50]):
            yield from _nodes(item, (*path, i))


def mutate_tree(value: Any, rng: random.Random, layer_types: bool = False) -> Any:
    """A copy of a JSON value with one random node replaced, removed, grown or retyped."""
    value = json.loads(json.dumps(value))
    nodes = list(_nodes(value))
    path = rng.choice(nodes)
    if not path:
        return _nasty(rng)
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    move = rng.randrange(7)
    if move == 0:
        parent[key] = _nasty(rng)
    elif move == 1:
        del parent[key]
    elif move == 2 and isinstance(parent[key], list):
        parent[key] = parent[key] * rng.choice([2, 10, 1000])
    elif move == 3 and isinstance(parent[key], dict):
        parent[key][rng.choice(["dtype", "generator", "init", "extra", "name", "self"])] = (
            _nasty(rng)
        )
    elif move == 4 and layer_types:
        parent[key] = rng.choice(LAYER_TYPES)
    elif move == 5 and isinstance(parent[key], int | float) and not isinstance(parent[key], bool):
        parent[key] = parent[key] * rng.choice([-1, 1000, 10**6, 0.5]) + rng.choice([0, 1])
    else:
        parent[key] = [parent[key]]
    return value


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Flipped, cut, repeated, inserted or zeroed bytes."""
    data = bytearray(data)
    move = rng.randrange(6)
    if move == 0:
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
    elif move == 1:
        data = data[: rng.randrange(len(data) + 1)]
    elif move == 2:
        at = rng.randrange(len(data) + 1)
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif move == 3:
        data += data[-rng.randint(1, 200):] * rng.randint(1, 50)
    elif move == 4 and data:
        at = rng.randrange(len(data))
        data[at : at + rng.randint(1, 100)] = b"\x00" * min(100, len(data) - at)
    else:
        data = bytearray(rng.randbytes(rng.randint(0, 4096)))
    return bytes(data)


def _split_safetensors(data: bytes) -> tuple[dict, bytes]:
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def _join_safetensors(header: dict, body: bytes, rng: random.Random) -> bytes:
    text = _json_text(header, rng).encode()
    return struct.pack("<Q", len(text)) + text + body


def model_case(valid: list[bytes], rng: random.Random) -> bytes:
    """A model file made from a valid one: mutated bytes, header, metadata or weights."""
    data = rng.choice(valid)
    header, body = _split_safetensors(data)
    meta = header.setdefault("__metadata__", {})
    move = rng.randrange(10)
    if move == 0:
        return mutate_bytes(data, rng)
    if move == 1:  # the tensor table
        return _join_safetensors(mutate_tree(header, rng), body, rng)
    if move == 2:  # a metadata entry
        key = rng.choice([*meta, "format", "format_version", "dtype"])
        meta[key] = rng.choice(
            ["", "0", "1", "2", "99", "²", "١", "1" * 5000, "-1", " 1", "1.0", "minidl",
             "torch.float16", "torch.float64", "none", "x" * 100_000]
        )
        return _join_safetensors(header, body, rng)
    if move in (3, 4, 5):  # the architecture
        arch = json.loads(meta["architecture"])
        for _ in range(rng.randint(1, 3)):
            arch = mutate_tree(arch, rng, layer_types=True)
        meta["architecture"] = _json_text(arch, rng)
        return _join_safetensors(header, body, rng)
    if move == 6:  # far too large a layer, or a loss at the end, or a bare loss
        arch = json.loads(meta["architecture"])
        choice = rng.randrange(4)
        if choice == 0:
            arch = {"type": "Sequential", "layers": [
                {"name": str(i), "type": "Linear",
                 "config": {"in_features": 50000, "out_features": 50000, "bias": True}}
                for i in range(rng.randint(1, 4))]}
        elif choice == 1 and arch.get("type") == "Sequential":
            arch["layers"].append({"name": "9", "type": rng.choice(["MSELoss", "BCELoss"]),
                                   "config": {}})
        elif choice == 2:
            arch = {"type": rng.choice(["MSELoss", "CrossEntropyLoss"]), "config": {}}
        else:  # Sequentials in Sequentials, written out (json.dumps would recurse)
            depth = rng.choice([20, 500, 3000, 100_000])
            meta["architecture"] = (
                '{"type": "Sequential", "layers": [' * depth + "]}" * depth
            )
            return _join_safetensors(header, body, rng)
        meta["architecture"] = json.dumps(arch)
        return _join_safetensors(header, body, rng)
    # the weights themselves: NaN/inf, another dtype, a missing or extra tensor
    from safetensors.torch import load as decode
    from safetensors.torch import save as encode

    tensors = decode(data)
    if not tensors:
        return mutate_bytes(data, rng)
    name = rng.choice(sorted(tensors))
    if move == 7:
        t = tensors[name].clone().reshape(-1)
        t[rng.randrange(t.numel())] = rng.choice([float("nan"), float("inf"), -float("inf")])
        tensors[name] = t.reshape(tensors[name].shape)
    elif move == 8:
        dtype = rng.choice([torch.float16, torch.bfloat16, torch.float64, torch.float32,
                            torch.int64, torch.int8, torch.bool])
        if rng.random() < 0.5:
            tensors = {k: v.to(dtype) for k, v in tensors.items()}
        else:
            tensors[name] = tensors[name].to(dtype)
    elif rng.random() < 0.5:
        del tensors[name]
    else:
        tensors[name + rng.choice(["x", ".weight", "0"])] = torch.zeros(rng.randint(0, 5))
    return encode(tensors, metadata=meta)


def experiment_case(valid: list[str], rng: random.Random) -> bytes:
    """An experiment file made from a valid one: mutated JSON, bytes or a bomb of lists."""
    text = rng.choice(valid)
    move = rng.randrange(8)
    if move == 0:
        return mutate_bytes(text.encode(), rng)
    if move == 1:  # lists and values by the million, inside the size limit
        unit = rng.choice(["[],", "0,", "{},", "[[0]],", '"",'])
        count = rng.choice([10_000, 1_000_000, 5_000_000])
        doc = json.loads(text)
        return (json.dumps(doc)[:-1] + ', "bomb": [' + unit * count + "0]}").encode()
    if move == 2:
        return ("\ufeff" + text).encode("utf-8") if rng.random() < 0.5 else text.encode("utf-16")
    doc = json.loads(text)
    for _ in range(rng.randint(1, 3)):
        doc = mutate_tree(doc, rng)
    return _json_text(doc, rng).encode()


CSV_TOKENS = ["", "nan", "inf", "-inf", "1e400", "1e6", "1e7", "0", "1", "2", "-1", "0.5",
              "train", "test", "TEST", "x1", "label", "١", "²", "1_0", " 1 ", "0x10", '"',
              '"1,2"', "a" * 200_000, "\x00", "\r", "1\n2", "#", "True", "1.0", "-0"]


def points_case(valid: list[str], rng: random.Random) -> bytes:
    """A points file made from a valid one: mutated rows, fields, bytes, or millions of rows."""
    text = rng.choice(valid)
    move = rng.randrange(7)
    if move == 0:
        return mutate_bytes(text.encode(), rng)
    if move == 1:  # the same (bad or good) row many times
        row = rng.choice(["x,y,z\n", "1,2,1\n", "1,2\n", "\n", "\r", "#c\n", "1,2,3,4,5\n"])
        return (text + row * rng.choice([10, 19_000, 30_000, 2_000_000])).encode()
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        fields = lines[i].rstrip("\r\n").split(",")
        if move == 2:
            fields[rng.randrange(len(fields))] = rng.choice(CSV_TOKENS)
        elif move == 3:
            fields.insert(rng.randrange(len(fields) + 1), rng.choice(CSV_TOKENS))
        elif move == 4 and len(fields) > 1:
            del fields[rng.randrange(len(fields))]
        elif move == 5:
            lines.insert(i, rng.choice(["x1,x2,label\n", "x1,x2,label,split\n", "a,b\n",
                                        "\ufeffx1,x2,label\n", "\n", '"\n']))
            continue
        else:
            fields = [rng.choice(CSV_TOKENS) for _ in range(rng.randint(0, 6))]
        lines[i] = ",".join(fields) + "\n"
    return "".join(lines).encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------------------------
# Special files: the same for every loader
# ---------------------------------------------------------------------------------------------


def special_files(folder: Path, limit: int) -> list[Path]:
    """A named pipe, devices, a folder, symlink loops, a too-long name, a missing file, an
    empty file and a sparse file one byte over ``limit``."""
    found = [Path("/dev/zero"), Path("/dev/urandom"), Path("/dev/null"), folder]
    pipe = folder / "pipe.fifo"
    if not pipe.exists():
        os.mkfifo(pipe)
    found.append(pipe)
    for name, target in (("zero-link", "/dev/zero"), ("loop", "loop"), ("dangling", "nowhere")):
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(target)
        found.append(link)
    found += [folder / ("n" * 300), folder / "missing.file", folder / ("d" * 200) / ("e" * 200)]
    empty = folder / "empty.file"
    empty.write_bytes(b"")
    big = folder / "big.file"
    with open(big, "wb") as f:
        f.truncate(limit + 1)
    found += [empty, big]
    return found


# ---------------------------------------------------------------------------------------------
# Running cases
# ---------------------------------------------------------------------------------------------


def _load_model(path: Path) -> Any:
    from playground.session import read_model

    model = minidl.load(path)
    read_model(path)  # the app's own reading of a model file: the same error class
    return model


@dataclass(frozen=True)
class Loader:
    """One loader under test: how to call it, its error, its cases and its size limit."""

    call: Callable[[Path], Any]
    error: type[BaseException]
    valid: Callable[[random.Random], list]
    case: Callable[[list, random.Random], bytes]
    limit: int
    suffix: str


LOADERS: dict[str, Loader] = {
    "model": Loader(
        _load_model,
        ModelFileError,
        lambda rng: [_model_bytes(m) for m in _models()],
        model_case,
        MODEL_MAX_BYTES,
        ".safetensors",
    ),
    "experiment": Loader(
        read_experiment, ExperimentFileError, lambda rng: _experiments(), experiment_case,
        EXPERIMENT_MAX_BYTES, ".json",
    ),
    "points": Loader(
        lambda p: read_points_file(p, seed=1), PointsFileError, _csvs, points_case,
        POINTS_MAX_BYTES, ".csv",
    ),
}


def _model_bytes(model: nn.Module) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        minidl.save(model, path)
        return path.read_bytes()


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


@contextlib.contextmanager
def bounded_memory(headroom: int | None) -> Iterator[None]:
    """Cap the address space at what the process has now plus ``headroom`` (Linux)."""
    if headroom is None or not Path("/proc/self/status").exists():
        yield
        return
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            current = int(line.split()[1]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = current + headroom
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def check(loader: Loader, path: Path, report: Report, what: str, seconds: float) -> None:
    """Call the loader on one file and file the outcome in ``report``."""
    report.cases += 1
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    outcome = None
    try:
        try:
            loader.call(path)
        finally:  # the alarm is for the loader alone, not for sorting out what it did
            signal.setitimer(signal.ITIMER_REAL, 0)
        report.loaded += 1
    except CaseTimeout:
        outcome = f"over {seconds:g} s"
    except loader.error as e:
        if str(path) in str(e):
            report.refused += 1
            report.kinds[_kind(getattr(e, "problem", str(e)))] += 1
        else:
            outcome = f"{type(e).__name__} without the file name: {str(e)[:150]}"
    except (Exception, RecursionError, MemoryError) as e:  # noqa: BLE001 - what we look for
        outcome = f"{type(e).__name__}: {str(e)[:150]}"
    elapsed = time.perf_counter() - start
    report.slowest = max(report.slowest, elapsed)
    if outcome is not None:
        report.wrong.append(f"{what}: {outcome}")


def _kind(problem: str) -> str:
    """A refusal's first words: what kind of problem it named (for the table of kinds)."""
    words = problem.replace("(", " ").split()
    return " ".join(words[:4])


def run(
    name: str,
    cases: int,
    seed: int,
    folder: Path,
    *,
    seconds: float = CASE_SECONDS,
    headroom: int | None = MEMORY_HEADROOM,
) -> Report:
    """``cases`` mutated files (and every special file) through one loader, in ``folder``."""
    loader = LOADERS[name]
    rng = random.Random(seed)
    valid = loader.valid(rng)
    report = Report(name)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        with bounded_memory(headroom):
            for path in special_files(folder, loader.limit):
                check(loader, path, report, f"special file {path.name[:40]}", seconds)
            path = folder / f"case{loader.suffix}"
            for i in range(cases):
                data = loader.case(valid, rng)
                path.write_bytes(data)
                check(loader, path, report, f"case {i} (seed {seed})", seconds)
    finally:
        signal.signal(signal.SIGALRM, previous)
    report.seconds = time.perf_counter() - start
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    report.peak_rss_growth_mb = growth / 1024
    return report


def markdown(reports: list[Report], seed: int, cases: int) -> str:
    """The counts as a RESULTS.md section."""
    from .common import machine_summary

    lines = [
        f"## Hostile files (issue 16), {datetime.date.today()}",
        "",
        f"`python -m benchmarks.fuzz_loaders --cases {cases} --seed {seed} --write`; "
        f"{machine_summary()}. Each loader also got the {len(special_files_names())} special "
        "files (pipe, devices, folder, symlink loops, long names, empty, over the limit).",
        "",
        "| loader | cases | loaded | refused (its error, file named) | wrong | slowest case "
        "| total | peak RSS growth |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        lines.append(
            f"| {r.loader} | {r.cases:,} | {r.loaded:,} | {r.refused:,} | {len(r.wrong)} "
            f"| {r.slowest * 1000:.0f} ms | {r.seconds:.1f} s | {r.peak_rss_growth_mb:.0f} MB |"
        )
    lines.append("")
    for r in reports:
        top = ", ".join(f"{kind!r} {n}" for kind, n in r.kinds.most_common(8))
        lines.append(f"- {r.loader}: most common refusals: {top}")
    lines.append("")
    return "\n".join(lines)


def special_files_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return [p.name for p in special_files(Path(folder), 0)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz_loaders", description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000, help="cases per loader (10,000)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--loader", choices=list(LOADERS), action="append")
    parser.add_argument("--write", action="store_true", help="add the table to RESULTS.md")
    args = parser.parse_args(argv)
    import tempfile

    torch.set_num_threads(1)
    reports = []
    for name in args.loader or list(LOADERS):
        with tempfile.TemporaryDirectory() as folder:
            report = run(name, args.cases, args.seed, Path(folder))
        reports.append(report)
        print(
            f"{name}: {report.cases} cases, {report.loaded} loaded, {report.refused} refused, "
            f"{len(report.wrong)} wrong, slowest {report.slowest * 1000:.0f} ms, "
            f"{report.seconds:.1f} s",
            flush=True,
        )
        for line in report.wrong[:20]:
            print("   ", line)
    table = markdown(reports, args.seed, args.cases)
    print(table)
    if args.write:  # newest sections first, after the main table
        text = RESULTS.read_text(encoding="utf-8")
        at = text.find("\n## ") + 1 or len(text)
        RESULTS.write_text(text[:at] + table + "\n" + text[at:], encoding="utf-8")
    return 1 if any(r.wrong for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
