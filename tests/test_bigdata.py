"""Many points (issue 15 item 4): the vectorised CSV reader, PointSet, the plot's subset, the
worker trained on all points, experiments that keep their points beside them, --points-csv.

The million-row run with its times, memory and GUI lateness is benchmarks/bigdata.py; here a
50,000-row file goes through the same path.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import torch_seed_network
from safetensors.torch import load_file

from playground import pointfile
from playground.app import parse_args
from playground.document import Document, ExperimentFileError, points_path, read_experiment
from playground.experiment import (
    CUSTOM,
    MAX_INLINE_POINTS,
    DataPoint,
    DataSpec,
    Experiment,
    ExperimentError,
    load_experiment,
)
from playground.pointfile import PointsFileError, points_to_csv, read_points_csv, read_points_file
from playground.pointset import PointSet
from playground.session import MAX_SHOWN

ROOT = Path(__file__).resolve().parent.parent
ROWS = 50_000


def _write_rows(path: Path, rows: int, seed: int = 0, *, split: bool = True) -> PointSet:
    """A CSV of ``rows`` xor-like points; the points it holds (the oracle: written, not read)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-6, 6, size=(rows, 2))
    label = (xy[:, 0] * xy[:, 1] > 0).astype(np.uint8)
    test = rng.random(rows) < 0.5
    if split:
        path.write_text(points_to_csv(PointSet(xy, label, test).rows()))
    else:
        lines = [f"{a!r},{b!r},{c}" for (a, b), c in zip(xy.tolist(), label.tolist(), strict=True)]
        path.write_text("x1,x2,label\n" + "\n".join(lines) + "\n")
    return PointSet(xy, label, test)


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> tuple[Path, PointSet]:
    path = tmp_path_factory.mktemp("big") / "points.csv"
    return path, _write_rows(path, ROWS)


# -- the reader ---------------------------------------------------------------------------------

_numbers = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.6g}"),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.3e}".upper()),
    st.integers(-999, 999).map(str),
    st.sampled_from(["+1", ".5", "5.", "-0", "1e3", " 2 ", "0.1e-2", "1_0", "nan", "1e9", "x"]),
    # what the decimal reader must refuse or read as float() does
    st.sampled_from(["-", ".", "-.", "+", "--5", "5-", "1.2.3", "+-1", "0x10", "1E5", "-0.0"]),
    st.sampled_from(["1.5e-05", "1e-05", "te", "1t", "in", "tr", "e5", "1ee5", "9" * 22]),
    st.sampled_from(["9007199254740993", "0." + "0" * 26 + "1", "0." + "0" * 27 + "1"]),
)
# classes 0..9, and what makes a file a regression's (real values) or bad (too big, nan)
_labels = st.sampled_from(
    ["0", "1", "1.0", "0e0", " 1", "2", "-0", "9", "10", "0.5", "-3.25", "1e7", "nan", "x"]
)
_splits = st.sampled_from(["train", "test", "TEST", "Train", "", " ", "train ", "val", "tes"])


@st.composite
def _files(draw: st.DrawFn) -> str:
    width = draw(st.sampled_from([3, 4]))
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        row = [draw(_numbers), draw(_numbers), draw(_labels)]
        if width == 4:
            row.append(draw(_splits))
        rows.append(",".join(row))
    header = draw(
        st.sampled_from(
            ["", "x1,x2,label\n", "x1,x2,label,split\n", "# c\n\n", "x1,x2,target\n"]
            + ["x1,x2,Target,split\n"]
        )
    )
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return header + end.join(rows) + draw(st.sampled_from(["", end]))


@settings(max_examples=500)
@given(_files(), st.integers(0, 3))
def test_the_whole_buffer_reader_agrees_with_the_line_reader_on_every_file(text, seed):
    """The fast path reads a file exactly as the line-by-line reader (csv + float()) does,
    or leaves it to that reader: same points, or the same message."""

    def read(plain: bool) -> object:
        try:
            return read_points_csv(text, test_fraction=0.5, seed=seed, plain=plain)
        except PointsFileError as e:
            return str(e)

    fast, lines = read(True), read(False)
    assert fast == lines
    if isinstance(fast, PointSet):
        assert np.array_equal(fast.xy, lines.xy)  # bit for bit (== already says -0.0 == 0.0)
        assert np.signbit(fast.xy).tolist() == np.signbit(lines.xy).tolist()


_formats = st.sampled_from(["{!r}", "{:.3f}", "{:.17g}", "{:.20f}", "{:.1f}", "{:.0f}."])


@settings(max_examples=300)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=60),
    _formats,
    st.sampled_from([3, 4]),
    st.one_of(st.none(), st.tuples(st.integers(0, 200), _numbers)),
    st.booleans(),
)
def test_files_a_program_wrote_are_read_as_the_line_reader_reads_them(
    values, form, width, odd, regression
):
    """Rows that all look alike take the decimal reader's quickest path; one odd value
    (another format, an exponent, no number) anywhere gives the same points or message;
    classes 0..9 or, under a target header, a regression's real targets."""
    rows = []
    for i in range(0, len(values) - 1, 2):
        label = form.format(values[i] / 7) if regression else str(i % 10)
        row = [form.format(values[i]), form.format(values[i + 1]), label]
        rows.append(row + (["test" if i % 3 else "train"] if width == 4 else []))
    if odd is not None:
        rows[odd[0] % len(rows)][odd[0] % 3] = odd[1]
    header = ["x1", "x2", "target" if regression else "label", "split"][:width]
    text = ",".join(header) + "\n" + "\n".join(",".join(row) for row in rows) + "\n"

    def read(plain: bool) -> object:
        try:
            return read_points_csv(text, plain=plain)
        except PointsFileError as e:
            return str(e)

    fast, lines = read(True), read(False)
    assert fast == lines
    if isinstance(fast, PointSet):
        assert fast.regression == lines.regression
        assert np.signbit(fast.xy).tolist() == np.signbit(lines.xy).tolist()
        assert np.array_equal(fast.label, lines.label)


def _decimals(rng: np.random.Generator, n: int) -> list[str]:
    """Decimal texts of every kind the decimal reader meets (float() is the oracle)."""
    doubles = (rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-30, 7, n)).tolist()
    texts = [repr(v) for v in doubles[: n // 4]]  # exponents too
    places = rng.integers(0, 28, n).tolist()
    texts += [f"{v:.{p}f}" for v, p in zip(doubles[n // 4 : n // 2], places, strict=False)]
    texts += [f"{v:.{p % 19 + 1}g}" for v, p in zip(doubles[n // 2 :], places, strict=False)]
    # halfway between two float64s with few digits (ties to even), and either side of them
    for m in rng.integers(2**53, 2**62, 200).tolist():
        m |= 1 << (m.bit_length() - 54)  # the bit below float64's last: a tie
        m &= ~((1 << (m.bit_length() - 54)) - 1)
        for text in (str(m), str(m - 1), str(m + 1), f"{m // 10}.{m % 10}"):
            texts.append(text)
    texts += ["-0.0", "-0", "0.0", "9223372036854775807", "9223372036854775808", "1" * 25]
    texts += ["0." + "0" * 26 + "7", "0." + "0" * 27 + "7", "-.5", "5.", "+3.25"]
    return texts


def test_the_decimal_reader_reads_every_number_bit_for_bit_as_float_does():
    """The integer over 10**k in long double, rounded once more to float64, is float()'s
    number (the oracle) for every kind of decimal, halfway cases included."""
    texts = _decimals(np.random.default_rng(5), 30_000)
    texts += texts[: (-len(texts)) % 3]  # whole rows of x1, x2, label
    body = "".join(f"{a},{b},{c}\n" for a, b, c in zip(*[iter(texts)] * 3, strict=True))
    numbers = pointfile._read_decimal(body.encode(), 0, 3)
    if not pointfile._EXACT:
        assert numbers is None
        return
    assert numbers is not None
    xy, label, _ = numbers
    got = np.column_stack([xy, label]).reshape(-1)
    want = np.array([float(t) for t in texts])
    assert got.view(np.uint64).tolist() == want.view(np.uint64).tolist()  # bit for bit


def test_a_plain_file_is_read_whole_not_line_by_line(big_csv, monkeypatch):
    path, written = big_csv

    def refuse(*args: object) -> None:
        raise AssertionError("the line-by-line reader was used")

    monkeypatch.setattr(pointfile, "_read_lines", refuse)
    points = read_points_file(path)
    assert points == written and points.n_test == written.n_test


def test_a_bad_line_deep_in_a_big_file_is_named_and_nothing_is_imported(big_csv, tmp_path):
    lines = big_csv[0].read_text().splitlines()
    lines[40_000] = "1.5,oops,1,train"  # line 40,001 of the file
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PointsFileError) as info:
        read_points_file(path)
    assert str(info.value) == (
        f"{path}: line 40001: x2 is 'oops', not a number\nNothing was imported."
    )


def test_more_rows_than_the_limit_are_refused_by_both_readers(monkeypatch):
    monkeypatch.setattr(pointfile, "MAX_ADDED_POINTS", 100)
    text = "x1,x2,label\n" + "1,2,1\n" * 101
    for plain in (True, False):
        with pytest.raises(PointsFileError, match="more than 100 points"):
            read_points_csv(text, plain=plain)
    assert len(read_points_csv("x1,x2,label\n" + "1,2,1\n" * 100)) == 100


def test_the_size_limit_leaves_room_for_a_million_long_rows():
    row = f"{-0.12345678901234567!r},{-123456.78901234567!r},1,train\n"
    assert 1_000_000 * len(row) + 100 < pointfile.MAX_FILE_BYTES
    assert pointfile.MAX_LINES > 1_000_000


# -- PointSet: the tuple of DataPoints it stands for ---------------------------------------------


def test_a_point_set_behaves_as_its_tuple_of_points():
    points = (DataPoint(0.5, -1.0, 1), DataPoint(2.0, 3.0, 0, True), DataPoint(-4.0, 0.1, 1))
    table = PointSet.of(points)
    assert table == points and tuple(table) == points and len(table) == 3
    assert table[-1] == points[-1] and table[1:] == points[1:] and table[:0] == ()
    assert table + (DataPoint(1.0, 1.0, 0),) == (*points, DataPoint(1.0, 1.0, 0))
    assert hash(PointSet.of(points)) == hash(table) and table.n_test == 1
    with pytest.raises(IndexError):
        table[3]
    with pytest.raises(ValueError, match="labels must be classes 0 to 9"):
        PointSet(np.zeros((1, 2)), np.array([10]), np.array([False]))
    with pytest.raises(ValueError, match="labels must be classes 0 to 9"):
        PointSet(np.zeros((1, 2)), np.array([0.5]), np.array([False]))
    targets = PointSet(np.zeros((2, 2)), np.array([0.25, -3.0]), np.zeros(2, bool), regression=True)
    assert [p.label for p in targets] == [0.25, -3.0] and targets[0].label == 0.25
    assert PointSet.of(tuple(targets)) == targets and PointSet.of(tuple(targets)).regression
    assert pickle.loads(pickle.dumps(targets)) == targets
    with pytest.raises(ValueError, match="targets must be finite"):
        PointSet(np.zeros((1, 2)), np.array([np.inf]), np.array([False]), regression=True)
    with pytest.raises(ValueError, match="finite"):
        PointSet(np.array([[np.nan, 0.0]]), np.array([1]), np.array([False]))
    # the edits of DataSpec work on it as on the tuple
    spec = DataSpec(dataset=CUSTOM).with_imported(table)
    as_tuple = DataSpec(dataset=CUSTOM).with_imported(points)
    assert isinstance(spec.added, PointSet) and spec == as_tuple
    assert spec.domain == as_tuple.domain and spec.plot_domain() == as_tuple.plot_domain()
    assert spec.problems() == as_tuple.problems() == []
    assert spec.with_point(1.0, 1.0, 0).added == (*points, DataPoint(1.0, 1.0, 0))
    assert spec.without_point(-2).added == (points[0], points[2])


# -- the window: 50,000 points trained through the worker, 20,000 of them shown -----------------


def test_an_imported_big_csv_trains_an_epoch_on_all_points_and_shows_a_subset(
    qtbot, big_csv, tmp_path
):
    from tests.windows import make_window

    path, written = big_csv
    window = make_window(qtbot)
    assert window.import_points(path)
    data = window.experiment.data
    assert data.dataset == CUSTOM and data.added == written
    assert "Imported 50,000 points" in window.statusBar().currentMessage()
    assert window.plots.boundary._points == MAX_SHOWN
    assert window.plots.boundary.note == "showing 20,000 of 50,000 points"

    window.step()  # one epoch in the worker process
    qtbot.waitUntil(lambda: window.controller.is_idle and window.session.epoch == 1, timeout=60_000)
    session = window.session
    # the session came back by reference: the window's own points, all of them
    assert session.point_count == ROWS and session.experiment.data.added == written
    assert session.steps == -(-(ROWS - written.n_test) // 50)  # every training point, batch 50

    # the test accuracy the window shows is over every test point: the exported model (raw
    # x1, x2 in) loaded into torch.nn agrees on all 25,000 or so of them
    model_path = tmp_path / "model.safetensors"
    session.save_model(model_path)
    reference = torch_seed_network()
    reference.load_state_dict(load_file(model_path))
    test_xy = torch.from_numpy(written.xy[written.test]).float()
    test_y = torch.from_numpy(written.label[written.test].astype(np.int64))
    with torch.no_grad():
        correct = ((reference(test_xy)[:, 0] > 0.5).long() == test_y).float().mean().item()
    shown = window.last_snapshot.test_accuracy
    assert abs(shown - correct) <= 2 / len(test_y)  # float32 rounding may flip a point or two


# -- experiments with many points keep them beside the JSON ---------------------------------------


def _big_experiment(points: PointSet) -> Experiment:
    exp = Experiment()
    return exp.replace(data=exp.data.with_imported(points))


def test_a_big_experiment_saves_its_points_beside_the_json_and_opens_them(big_csv, tmp_path):
    _, written = big_csv
    document = Document(_big_experiment(written))
    path = tmp_path / "run.json"
    document.save(path)
    beside = points_path(path)
    assert beside == tmp_path / "run.points.csv" and beside.exists()
    doc = json.loads(path.read_text())
    reference = doc["data"]["added"]
    assert reference["file"] == "run.points.csv" and reference["points"] == ROWS
    assert path.stat().st_size < 5_000  # a reference, never a 50,000-row list
    import hashlib

    assert reference["sha256"] == hashlib.sha256(beside.read_bytes()).hexdigest()
    opened, _ = read_experiment(path)
    assert opened == document.experiment and opened.data.added == written
    assert np.array_equal(opened.data.added.xy, written.xy)  # every digit came back
    mode = os.stat(beside).st_mode & 0o777
    assert mode == os.stat(path).st_mode & 0o777  # saved as any file the app writes


def test_a_big_regression_saves_its_targets_beside_the_json_and_opens_them(tmp_path):
    rng = np.random.default_rng(5)
    xy = rng.uniform(-6, 6, (ROWS, 2))
    value = np.tanh(xy[:, 0] * xy[:, 1] / 7)
    targets = PointSet(xy, value, rng.random(ROWS) < 0.3, regression=True)
    exp = Experiment()
    document = Document(exp.replace(data=exp.data.with_imported(targets, regression=True)))
    path = tmp_path / "run.json"
    document.save(path)
    assert points_path(path).read_text().startswith("x1,x2,target,split\n")
    opened, _ = read_experiment(path)
    assert opened == document.experiment and opened.task == "regression"
    assert opened.data.added.regression and np.array_equal(opened.data.added.label, targets.label)


def test_a_changed_or_missing_points_file_is_named_in_the_message(big_csv, tmp_path):
    _, written = big_csv
    path = tmp_path / "run.json"
    Document(_big_experiment(written)).save(path)
    beside = points_path(path)
    text = beside.read_text()
    beside.write_text(text.replace("train", "test", 1))
    with pytest.raises(ExperimentFileError) as info:
        read_experiment(path)
    assert str(info.value).startswith(f"{path}: its points file run.points.csv changed")
    assert "sha256" in str(info.value)
    beside.unlink()
    with pytest.raises(ExperimentFileError, match="run.points.csv is missing"):
        read_experiment(path)


@pytest.mark.parametrize("name", ["../run.points.csv", "/dev/zero", "x/y.csv", "run.json", ""])
def test_a_points_reference_outside_its_folder_is_refused(tmp_path, name):
    doc = json.loads(Experiment().to_json())
    doc["data"]["added"] = {"file": name, "sha256": "0" * 64, "points": 1}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ExperimentFileError, match="must be a .csv file beside it"):
        read_experiment(path)
    with pytest.raises(ExperimentError, match="open the experiment from its file"):
        load_experiment(json.dumps(doc))


def test_small_point_sets_stay_inline_and_big_ones_are_never_listed(tmp_path):
    few = PointSet.of([DataPoint(1.0, 2.0, 1), DataPoint(3.0, 4.0, 0, True)])
    path = tmp_path / "small.json"
    Document(_big_experiment(few)).save(path)
    assert json.loads(path.read_text())["data"]["added"] == [
        [1.0, 2.0, 1, "train"],
        [3.0, 4.0, 0, "test"],
    ]
    assert not points_path(path).exists()
    many = PointSet(
        np.zeros((MAX_INLINE_POINTS + 1, 2)),
        np.ones(MAX_INLINE_POINTS + 1),
        np.zeros(MAX_INLINE_POINTS + 1),
    )
    with pytest.raises(ExperimentError, match="too many to list"):
        _big_experiment(many).to_json()


# -- the command line ---------------------------------------------------------------------------


def test_points_csv_on_the_command_line_is_the_custom_dataset(tmp_path, capsys):
    path = tmp_path / "mine.csv"
    written = _write_rows(path, 400, split=False)
    _, exp = parse_args(["--points-csv", str(path), "--test-fraction", "0.25", "--seed", "3"])
    assert exp.data.dataset == CUSTOM and len(exp.data.added) == 400
    assert exp.data.added.n_test == 100  # split with --test-fraction and --seed
    assert np.array_equal(exp.data.added.xy, written.xy)
    path.write_text("x1,x2,label\n1,2,1\n3,four,0\n")
    with pytest.raises(SystemExit) as info:
        parse_args(["--points-csv", str(path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert f"--points-csv: {path}: line 3: x2 is 'four', not a number" in err


@pytest.mark.parametrize(
    ("text", "classes"),
    [("x1,x2,target\n0,0,0.5\n1,1,-2\n2,2,1\n", 0), ("0,0,0\n1,1,4\n2,2,2\n", 5)],
    ids=["targets", "five-classes"],
)
def test_points_csv_of_targets_or_many_classes_makes_that_task(tmp_path, text, classes):
    path = tmp_path / "mine.csv"
    path.write_text(text)
    loss = ["--loss", "cross_entropy"] if classes > 2 else []  # else it exits saying so
    _, exp = parse_args(["--points-csv", str(path), *loss])
    assert not exp.problems(), exp.problems()
    assert exp.data.n_classes == classes and exp.out_width == max(classes, 1)
    assert (exp.task == "regression") == (classes == 0)


def test_a_scripted_launch_with_points_csv_trains_and_screenshots(big_csv, tmp_path):
    path, _ = big_csv
    shot = tmp_path / "window.png"
    cmd = [
        sys.executable,
        str(ROOT / "main.py"),
        "--points-csv",
        str(path),
        "--train",
        "--epochs",
        "1",
        "--screenshot",
        str(shot),
        "--quit-when-done",
    ]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert shot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("generated", [False, True], ids=["imported", "generated"])
def test_a_big_session_is_handed_over_without_its_tensors_and_rebuilt_the_same(big_csv, generated):
    from playground.session import REBUILD_ABOVE, Session, _SessionData

    _, written = big_csv
    if generated:
        exp = Experiment(data=DataSpec(dataset="spiral", points=ROWS, noise=0.1))
    else:
        exp = _big_experiment(written)
    session = Session(exp)
    session.step(1)
    assert session.point_count > REBUILD_ABOVE
    data = pickle.dumps(session, protocol=pickle.HIGHEST_PROTOCOL)
    tensors = sum(_nbytes(getattr(session, name)) for name in _SessionData.NAMES)
    points = 0 if generated else written.xy.nbytes + written.label.nbytes + written.test.nbytes
    assert len(data) < points + tensors / 4  # the points once, not their tensors too
    copy = pickle.loads(data)
    for name in _SessionData.NAMES:
        _assert_equal(getattr(copy, name), getattr(session, name))
    assert copy.scaler.mean.equal(session.scaler.mean) and copy.scaler.std.equal(session.scaler.std)
    for key, value in session.model.state_dict().items():
        assert copy.model.state_dict()[key].equal(value)
    copy.step(1), session.step(1)  # the copy trains as the original: same bits
    assert copy.history.train_loss == session.history.train_loss


def _nbytes(value) -> int:
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.nbytes
    return value.numel() * value.element_size()


def _assert_equal(a, b) -> None:
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_equal(x, y)
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b) and a.dtype == b.dtype
    else:
        assert a.dtype == b.dtype and torch.equal(a, b)
