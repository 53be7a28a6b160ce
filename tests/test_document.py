"""The application state without a window: the Change rule, clean/dirty, edits, files."""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground.document import (
    MAX_RECENT,
    Action,
    Change,
    Document,
    ExperimentFileError,
    classify,
    points_key,
    problem_text,
    read_experiment,
    recent_with,
    recent_without,
)
from playground.experiment import DataSpec, Experiment, ExperimentError, NetworkSpec


def test_importing_a_model_keeps_your_added_points(tmp_path):
    """Issue 12 item 9: the import rebuilt DataSpec from JSON ("Added point 1: not a point")."""
    from playground.session import Session, experiment_with_model, read_model

    data = DataSpec(domain=(-1.0, 2.0, -1.0, 2.0)).with_point(0.2, 0.3, 1).with_point(0.7, 0.1, 0)
    exp = Experiment(data=data)
    assert exp.problems() == []
    path = tmp_path / "m.safetensors"
    Session(Experiment(network=NetworkSpec.parse("linear:3,tanh,linear:1"))).save_model(path)
    imported = read_model(path)
    result = experiment_with_model(exp, imported)
    assert result.problems() == []
    assert result.data == replace(data, features=imported.features)
    assert result.network == imported.network and result.train == exp.train
    Session(result)  # it trains


# -- the Change rule -----------------------------------------------------------------------------

BASE = Experiment()
REBUILD, LIVE, NOTHING = Action.REBUILD, Action.APPLY_TRAINING, Action.NOTHING


def train(**changes) -> Experiment:
    return BASE.replace(train=replace(BASE.train, **changes))


def data(**changes) -> Experiment:
    return BASE.replace(data=replace(BASE.data, **changes))


CASES = [
    ("nothing", BASE, NOTHING, ""),
    (
        "network",
        BASE.replace(network=NetworkSpec.parse("linear:4,relu,linear:1")),
        REBUILD,
        "Network changed",
    ),
    ("features", data(features=("x1", "x2", "x1x2")), REBUILD, "Input features changed"),
    ("standardize", data(standardize=not BASE.data.standardize), REBUILD, "Input features"),
    ("dataset", data(dataset="xor"), REBUILD, "Data changed: new points"),
    ("points", data(points=BASE.data.points + 10), REBUILD, "Data changed"),
    ("noise", data(noise=0.2), REBUILD, "Data changed"),
    ("data seed", data(seed=3), REBUILD, "Data changed"),
    ("test fraction", data(test_fraction=0.3), REBUILD, "Data changed"),
    ("added point", BASE.replace(data=BASE.data.with_point(0.1, 0.2, 1)), REBUILD, "Data"),
    ("domain", data(domain=(-1.0, 1.0, -1.0, 1.0)), REBUILD, "Data changed"),
    ("loss", train(loss="bce"), REBUILD, "Loss changed to binary cross-entropy"),
    ("weights seed", train(seed=1), REBUILD, "Reset: new random weights (seed 1)"),
    ("learning rate", train(learning_rate=0.03), LIVE, "learning rate 0.03"),
    ("batch size", train(batch_size=10), LIVE, "batch size 10"),
    ("weight decay", train(weight_decay=0.001), LIVE, "L2 regularisation at rate 0.001"),
    ("L1", train(regularization="l1", weight_decay=0.01), LIVE, "L1 regularisation at rate 0.01"),
    ("no penalty", train(regularization="none"), LIVE, "no regularisation"),
    ("init", train(init="zeros"), REBUILD, "Initial weights: Zeros"),
    ("optimizer", train(optimizer="adam"), LIVE, "optimizer Adam (fresh state)"),
    ("momentum", train(momentum=0.5), LIVE, "Now training with"),
    ("max epochs", train(max_epochs=100), LIVE, "stopping after 100 epochs"),
    ("target loss", train(target_test_loss=0.1), LIVE, "stopping at test loss ≤ 0.1"),
    ("patience", train(patience=7), LIVE, "after 7 epochs without a better test loss"),
]


@pytest.mark.parametrize(("what", "new", "action", "says"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_change_asks_for_what_the_window_did(what, new, action, says):
    change = classify(BASE, new)
    assert change.action is action and says in change.message
    assert change.rebuild == (action is REBUILD)


def test_network_and_data_win_over_training_and_live_needs_a_session():
    both = train(learning_rate=0.5).replace(network=NetworkSpec.parse("linear:1"))
    assert classify(BASE, both).message.startswith("Network changed")
    # no running session (it could not be built): a new setting builds one
    assert classify(BASE, train(learning_rate=0.5), built=False) == Change(
        REBUILD, "Settings changed."
    )
    # an experiment that cannot train: rebuilding shows why
    broken = BASE.replace(network=NetworkSpec.parse("relu"))
    assert broken.problems()
    fixed_lr = broken.replace(train=replace(broken.train, learning_rate=0.5))
    assert classify(broken, fixed_lr).action is REBUILD


def test_stopping_only_when_paused_is_said():
    old = train(max_epochs=100)
    assert classify(old, BASE).message == "Now training with stopping only when paused."


def test_document_change_records_the_new_experiment():
    doc = Document()
    doc.built = True
    new = train(learning_rate=0.2)
    assert doc.change(new).action is LIVE and doc.experiment == new
    assert doc.change(new).action is NOTHING


# -- edits, clean and modified ---------------------------------------------------------------------


def test_an_edit_applies_and_reverts_itself_keeping_other_changes():
    doc = Document()
    doc.built = True
    spec = BASE.data.with_point(0.3, 0.4, 0)
    assert doc.edit("data", BASE.data, "Nothing", "no") is None
    edit = doc.edit("data", spec, "Add class-0 point", "Added a point.")
    assert doc.experiment == BASE  # nothing changes until it is applied
    assert edit.apply(doc) == Change(REBUILD, "Added a point.")
    assert doc.experiment.data == spec
    doc.change(doc.experiment.replace(train=replace(BASE.train, learning_rate=0.5)))
    undone = edit.revert(doc)
    assert undone == Change(REBUILD, "Undone: add class-0 point; the weights were reset.")
    assert doc.experiment.data == BASE.data and doc.experiment.train.learning_rate == 0.5


def test_modified_follows_the_experiment_and_with_weights_the_epoch():
    doc = Document()
    assert not doc.is_modified() and doc.name == "Untitled"
    doc.change(train(learning_rate=0.5))
    assert doc.is_modified()
    doc.change(BASE)  # back to what was saved
    assert not doc.is_modified()
    assert not doc.is_modified(12) and doc.is_modified(12, with_weights=True)
    doc.mark_clean(12)
    assert not doc.is_modified(12, with_weights=True)


# -- files ---------------------------------------------------------------------------------------


def test_save_then_read_gives_the_experiment_back(tmp_path):
    doc = Document(BASE.replace(data=BASE.data.with_point(0.25, 0.5, 1)))
    doc.change(doc.experiment.replace(train=replace(BASE.train, learning_rate=0.03)))
    path = tmp_path / "exp.json"
    doc.save(path)
    assert doc.path == path and doc.name == "exp.json" and not doc.is_modified()
    assert [p.name for p in tmp_path.iterdir()] == ["exp.json"]  # no temporary file left
    assert read_experiment(path) == (doc.experiment, None)


def test_bad_files_give_sentences_naming_the_file(tmp_path):
    missing = tmp_path / "none.json"
    with pytest.raises(ExperimentFileError) as e:
        read_experiment(missing)
    assert e.value.problem == "no such file" and str(e.value) == f"{missing}: no such file"
    assert problem_text(e.value) == "no such file"
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(ExperimentFileError) as e:
        read_experiment(binary)
    assert problem_text(e.value) == "not a text file (byte 0 is not UTF-8)"
    junk = tmp_path / "j.json"
    junk.write_text("[1, 2")
    with pytest.raises(ExperimentFileError) as e:
        read_experiment(junk)
    assert isinstance(e.value, ExperimentError) and e.value.path == str(junk)
    assert problem_text(e.value).startswith("not valid JSON (line 1")


def test_recent_files_newest_first_once_and_at_most_eight(tmp_path):
    paths: list[str] = []
    for i in range(10):
        paths = recent_with(paths, tmp_path / f"{i}.json")
    assert paths == [str((tmp_path / f"{i}.json").resolve()) for i in range(9, 1, -1)]
    assert len(paths) == MAX_RECENT
    again = recent_with(paths, tmp_path / "5.json")
    assert again[0].endswith("5.json") and len(again) == MAX_RECENT
    assert len(set(again)) == MAX_RECENT
    assert str((tmp_path / "5.json").resolve()) not in recent_without(again, tmp_path / "5.json")


def test_points_key_ignores_features_and_scaling():
    assert points_key(data(features=("x1",), standardize=False)) == points_key(BASE)
    assert points_key(data(noise=0.3)) != points_key(BASE)


def test_an_edit_of_the_whole_experiment_reverts_every_part():
    doc = Document()
    imported = BASE.replace(
        network=NetworkSpec.parse("linear:3,tanh,linear:1,sigmoid"),
        data=replace(BASE.data, features=("x1", "x2", "x1*x2")),
    )
    edit = doc.edit("experiment", imported, "Import m.safetensors", "Imported a model.")
    assert edit.apply(doc) == Change(REBUILD, "Imported a model.") and doc.experiment == imported
    edit.revert(doc)
    assert doc.experiment == BASE
    assert doc.edit("experiment", BASE, "Nothing", "no") is None


def test_typed_weights_count_as_modified_only_when_files_carry_weights():
    doc = Document()
    doc.weight_edits += 1
    assert not doc.is_modified() and doc.is_modified(with_weights=True)
    doc.weight_edits -= 1  # undone
    assert not doc.is_modified(with_weights=True)
    doc.weight_edits += 1
    doc.mark_clean()  # saved with the typed weight
    assert not doc.is_modified(with_weights=True)
    doc.new_weights()  # a new session: fresh weights, not the file's
    assert doc.weight_edits == 0 and doc.is_modified(with_weights=True)
    doc.mark_clean()
    doc.new_weights()  # the file's weights were fresh ones: still the same
    assert not doc.is_modified(with_weights=True)


def test_a_saved_experiment_gets_the_mode_open_would_give_and_keeps_a_replaced_ones(tmp_path):
    """Issue 16 item 4: atomic saves used to leave every file 0600 (mkstemp's mode)."""
    import os
    import stat

    path = tmp_path / "exp.json"
    old = os.umask(0o002)
    try:
        Document(BASE).save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o664  # 0666 less the umask
        os.chmod(path, 0o640)
        Document(BASE).save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)
