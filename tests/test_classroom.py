"""The classroom section of experiment files (issue 13 item 6), without a window.

Oracles: the states a teacher asked for (a class file must give back exactly those), the
section's documented rules (a control's entry wins over its panel's; what cannot hide is
locked, what cannot lock stays shown), every setting of an Experiment, and training the same
experiment without the section (bit for bit).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from playground.classroom import CONTROLS, PANELS, Classroom, ClassroomError, State, _in_sentence
from playground.document import ExperimentFileError, read_experiment
from playground.experiment import (
    DataPoint,
    DataSpec,
    Experiment,
    ExperimentError,
    TrainSpec,
    dump_experiment,
    load_experiment,
)
from playground.widgets.icons import RESOURCES

LESSON = Classroom.from_dict(
    {
        "note": "Change only the learning rate.",
        "controls": {
            "training": "lock",
            "training.learning_rate": "show",
            "data": "hide",
            "network": "lock",
            "plots": "lock",
            "inside.maths": "hide",
        },
    }
)


def with_section(section: object) -> str:
    doc = json.loads(dump_experiment(Experiment()))
    doc["classroom"] = section
    return json.dumps(doc)


# -- the file ---------------------------------------------------------------------------------


def test_a_file_without_the_section_opens_as_before_and_is_written_without_it():
    text = dump_experiment(Experiment())
    assert "classroom" not in json.loads(text)
    assert load_experiment(text)[0].classroom is None
    for path in sorted((RESOURCES / "examples").glob("[123]-*.json")):
        assert read_experiment(path)[0].classroom is None, path.name
    # "classroom": null is an experiment without one too
    assert load_experiment(with_section(None))[0] == Experiment()


def test_a_class_file_round_trips_with_its_weights():
    from playground.session import Session

    session = Session(Experiment(data=DataSpec(points=100)))
    session.step()
    experiment = session.experiment.replace(classroom=LESSON)
    loaded, weights = load_experiment(dump_experiment(experiment, session.saved_weights()))
    assert loaded == experiment and loaded.classroom == LESSON
    assert weights == session.saved_weights()


states_of_every_control = st.fixed_dictionaries(
    {name: st.sampled_from(control.states) for name, control in CONTROLS.items()}
)


@given(states_of_every_control, st.text(max_size=40))
def test_the_states_a_teacher_chose_come_back_from_the_file(states, note):
    classroom = Classroom.from_states(states, note)
    loaded = load_experiment(dump_experiment(Experiment(classroom=classroom)))[0].classroom
    assert loaded == classroom
    assert loaded.states() == states and loaded.note == note
    # the file says it briefly: never more entries than there are controls
    assert len(loaded.entries) <= len(CONTROLS)


def test_a_panel_names_all_its_controls_and_a_control_entry_wins():
    assert LESSON.state("training.learning_rate") is State.SHOW
    assert LESSON.state("training.batch_size") is State.LOCK
    assert LESSON.state("data.dataset") is State.HIDE
    assert LESSON.state("network.layers") is State.LOCK
    assert LESSON.state("inside.maths") is State.HIDE
    assert LESSON.state("inside.network_view") is State.SHOW  # not named: shown
    # a plot cannot be locked: a locked plots panel locks only its view options
    assert LESSON.state("plots.boundary") is State.SHOW
    assert LESSON.state("plots.view_options") is State.LOCK
    # typing weights has nothing to hide: a hidden network locks them
    hidden = Classroom((("network", State.HIDE),))
    assert hidden.state("network.layers") is State.HIDE
    assert hidden.state("network.weights") is State.LOCK
    assert hidden.panel_hidden("network") and not hidden.panel_hidden("data")


def test_the_summary_names_whole_panels_and_single_controls():
    assert LESSON.summary() == (
        "Locked: playing (Play, Pause, Step), reset the weights, batch size, regularisation, "
        "initial weights, optimizer, loss, stop conditions, the network, view options. "
        "Hidden: the data panel, maths of a layer."
    )
    assert Classroom().summary() == "Nothing is locked or hidden."


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("lock everything", "the classroom section must be an object, not str"),
        ({"controls": {"trainin": "lock"}}, "unknown panel or control 'trainin' (did you mean"),
        ({"controls": {"training.lr": "lock"}}, "the training panel's controls: play, reset"),
        ({"controls": {"zzz": "hide"}}, "panels: training, data, network, plots, inside"),
        ({"controls": {"data": "hidden"}}, 'must be "show", "lock" or "hide", not \'hidden\''),
        ({"controls": {"data": True}}, "not True"),
        ({"controls": {"plots.boundary": "lock"}}, 'can be "show" or "hide", not "lock"'),
        ({"controls": {"network.weights": "hide"}}, 'can be "show" or "lock", not "hide"'),
        ({"controls": ["network"]}, "classroom.controls must be an object"),
        ({"controls": {}, "password": "x"}, "unknown field(s) ['password']"),
        ({"note": 3}, "classroom.note must be text, not int"),
        ({"note": "x" * 2001}, "classroom.note has 2,001 characters; the limit is 2,000"),
    ],
)
def test_a_bad_section_is_refused_naming_what_is_wrong(section, fragment, tmp_path):
    with pytest.raises(ExperimentError) as info:
        load_experiment(with_section(section))
    assert fragment in str(info.value)
    path = tmp_path / "lesson.json"
    path.write_text(with_section(section))
    with pytest.raises(ExperimentFileError) as info:
        read_experiment(path)
    assert str(path) in str(info.value) and fragment in info.value.problem


def test_classroom_errors_are_value_errors_with_the_sentence():
    with pytest.raises(ClassroomError, match="unknown panel or control"):
        Classroom.from_dict({"controls": {"nothing": "lock"}})
    assert issubclass(ClassroomError, ValueError)


def test_the_example_lesson_is_a_class_file():
    path = RESOURCES / "examples" / "10-lesson-find-a-good-learning-rate.json"
    experiment, weights = read_experiment(path)
    assert weights is None and experiment.classroom is not None
    assert experiment.classroom.changeable("training.learning_rate")
    assert not experiment.classroom.changeable("network.layers")
    assert experiment.problems() == []


# -- the rule ---------------------------------------------------------------------------------


def test_every_setting_of_an_experiment_belongs_to_exactly_one_control():
    settings = [s for c in CONTROLS.values() for s in c.settings]
    expected = ["network"]
    expected += [f"data.{f.name}" for f in dataclasses.fields(DataSpec)]
    expected += [f"train.{f.name}" for f in dataclasses.fields(TrainSpec)]
    assert sorted(settings) == sorted(expected)
    assert {f.name for f in dataclasses.fields(Experiment)} == {
        "network",
        "data",
        "train",
        "classroom",
    }


def changed(experiment: Experiment, path: str) -> Experiment:
    """The experiment with the setting at ``path`` changed to another valid value."""
    if path == "network":
        return experiment.replace(network=experiment.network.parse("linear:4,relu,linear:1"))
    part, name = path.split(".")
    spec = getattr(experiment, part)
    value = getattr(spec, name)
    others = {
        "dataset": "xor",
        "features": ("x1",),
        "standardize": not value,
        "added": (DataPoint(0.5, 0.5, 1),),
        "removed": (3,),
        "domain": (-1.0, 1.0, -1.0, 1.0),
        "loss": "bce",
        "optimizer": "adam",
        "max_epochs": 10,
        "target_test_loss": 0.1,
        "patience": 5,
        "test_fraction": 0.25,
        "noise": 0.1,
        "momentum": 0.5,
        "weight_decay": 0.01,
        "regularization": "l1",
        "init": "zeros",
        "target_test_metric": 0.9,
        "regression": True,
    }
    new = others[name] if name in others else value + 1 if isinstance(value, int) else value / 2
    assert new != value, path
    return experiment.replace(**{part: dataclasses.replace(spec, **{name: new})})


@pytest.mark.parametrize(
    "control", [c for c in CONTROLS.values() if c.settings], ids=lambda c: c.name
)
def test_a_change_is_refused_exactly_when_its_control_is_locked_or_hidden(control):
    base = Experiment()
    for path in control.settings:
        new = changed(base, path)
        for state in control.states:
            classroom = Classroom(((control.name, state),))
            refusal = classroom.refusal(base, new)
            if state is State.SHOW:
                assert refusal is None, path
            else:
                word = "Locked" if state is State.LOCK else "Hidden"
                assert refusal == f"{word} by the class file: {_in_sentence(control.title)}."
        # the same change with every other control locked or hidden goes through
        others = Classroom.from_states(
            {n: c.states[-1] for n, c in CONTROLS.items() if n != control.name}
        )
        assert others.refusal(base, new) is None, path


def test_new_points_drop_the_removed_ones_without_counting_as_editing_your_points():
    base = Experiment(data=DataSpec(removed=(1, 2)))
    classroom = Classroom((("data.your_points", State.LOCK),))
    new_dataset = base.replace(data=dataclasses.replace(base.data, dataset="xor", removed=()))
    assert classroom.refusal(base, new_dataset) is None
    only_removed = base.replace(data=dataclasses.replace(base.data, removed=()))
    assert "your points" in classroom.refusal(base, only_removed)


def test_a_class_file_trains_bit_for_bit_like_the_same_file_without_the_section(tmp_path):
    from playground.session import Session

    experiment = Experiment(
        data=DataSpec(points=300, noise=0.1),
        train=TrainSpec(optimizer="adam", learning_rate=0.01, seed=5),
    )
    plain, lesson = tmp_path / "plain.json", tmp_path / "lesson.json"
    plain.write_text(dump_experiment(experiment))
    lesson.write_text(dump_experiment(experiment.replace(classroom=LESSON)))
    runs = []
    for path in (plain, lesson):
        session = Session(read_experiment(path)[0])
        for _ in range(5):
            session.step()
        runs.append(session.model.state_dict())
    assert runs[0].keys() == runs[1].keys()
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_every_panel_has_controls_with_distinct_names():
    names = [c.name for p in PANELS for c in p.controls]
    assert len(names) == len(set(names)) == len(CONTROLS)
    assert all(c.panel in {p.name for p in PANELS} for c in CONTROLS.values())
