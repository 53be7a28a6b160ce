"""playground.pointfile: importing points from CSV (all or nothing) and exporting them."""

from __future__ import annotations

import pytest

from playground.experiment import DataPoint
from playground.pointfile import PointsFileError, is_regression, points_to_csv, read_points_csv


def test_rows_without_a_header_read_as_training_and_test_points():
    points = read_points_csv("0.5,1.5,1\n-2,3e-1,0\n 4 , 5 , 1 \n1,1,0\n", test_fraction=0.5)
    assert [(p.x1, p.x2, p.label) for p in points] == [
        (0.5, 1.5, 1),
        (-2.0, 0.3, 0),
        (4.0, 5.0, 1),
        (1.0, 1.0, 0),
    ]
    assert sum(p.test for p in points) == 2  # half of 4 held out, as for generated data


def test_header_split_column_blank_lines_comments_and_a_bom():
    text = "\ufeffx1,x2,label,split\n# my points\n\n1,2,1,train\n3,4,0,TEST\n5,6,1,\n"
    points = read_points_csv(text.lstrip("\ufeff"), test_fraction=0.5)
    assert points[0] == DataPoint(1.0, 2.0, 1, False)
    assert points[1] == DataPoint(3.0, 4.0, 0, True)
    assert points[2].test is False  # one undecided point: kept for training


def test_the_automatic_split_depends_only_on_the_seed():
    text = "".join(f"{i},{i},{i % 2}\n" for i in range(40))
    a = read_points_csv(text, test_fraction=0.25, seed=3)
    b = read_points_csv(text, test_fraction=0.25, seed=3)
    c = read_points_csv(text, test_fraction=0.25, seed=4)
    assert a == b and a != c
    assert sum(p.test for p in a) == 10


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1,2,1\n3,4\n", "line 2: 2 values"),
        ("1,2,1\n3,four,0\n", "line 2: x2 is 'four', not a number"),
        ("x1,x2,label\n1,2,1\n\n3,4,2.5\n", "line 4: the label is 2.5; it must be a class 0 to 9"),
        ("x1,x2,label\n3,4,10\n", "line 2: the label is 10; it must be a class 0 to 9"),
        ("x1,x2,target\n3,4,nope\n", "line 2: the target is 'nope', not a number"),
        ("x1,x2,target\n3,4,1e9\n", "line 2: the target is 1e9; it must be a finite number"),
        ("1,2,yes\n", "line 1: the label is 'yes'"),
        ("1,nan,1\n", "line 1: x2 is nan, not a finite number"),
        ("1e300,0,1\n", "line 1: x1 = 1e300 is too large"),
        ("1,2,1,validation\n", "line 1: the split is 'validation'"),
        ("a,b,c\n1,2,1\n", "line 1: the header a, b, c is not x1, x2, label"),
        ("x1,x2,label\n1,2,1,test\n", "line 2: 4 values, expected 3"),
        ("x1,x2,label\n", "the file has no points"),
        ("", "the file has no points"),
    ],
)
def test_a_bad_file_names_the_line_and_the_problem(text, fragment):
    with pytest.raises(PointsFileError) as info:
        read_points_csv(text)
    assert fragment in str(info.value)


def test_many_bad_rows_are_summed_up_and_nothing_is_imported():
    text = "1,2,1\n" + "x,y,z\n" * 9
    with pytest.raises(PointsFileError) as info:
        read_points_csv(text)
    message = str(info.value)
    assert message.count("line ") == 5 and "4 more bad row(s)" in message
    assert "Nothing was imported" in message


def test_export_then_import_gives_the_same_points():
    import numpy as np

    rows = [(np.float32(0.3), np.float32(-1.25), 1, False), (2.5, 1e-3, 0, True)]
    text = points_to_csv(rows)
    assert text.splitlines()[:2] == ["x1,x2,label,split", "0.3,-1.25,1,train"]
    points = read_points_csv(text)
    assert [(np.float32(p.x1), np.float32(p.x2), p.label, p.test) for p in points] == [
        (np.float32(x1), np.float32(x2), label, test) for x1, x2, label, test in rows
    ]


def test_labels_0_to_k_minus_1_are_classes_and_give_k_classes():
    from playground.experiment import DataSpec

    points = read_points_csv("".join(f"{i},{i},{i % 4}\n" for i in range(20)))
    assert {p.label for p in points} == {0, 1, 2, 3}
    assert all(type(p.label) is int for p in points) and not is_regression(points)
    data = DataSpec().with_imported(tuple(points), regression=is_regression(points))
    assert data.classes == 4 and data.task == "classification" and not data.problems()


@pytest.mark.parametrize(
    "text",
    ["x1,x2,target\n0,0,1\n1,1,0\n2,2,1\n", "0,0,0.25\n1,1,-1\n2,2,1\n"],
    ids=["target header", "non-integer labels"],
)
def test_a_target_column_or_real_labels_make_a_regression(text):
    from playground.experiment import DataSpec

    points = read_points_csv(text)
    assert is_regression(points) and all(type(p.label) is float for p in points)
    data = DataSpec().with_imported(tuple(points), regression=True)
    assert data.task == "regression" and data.n_classes == 0 and not data.problems()


def test_a_regression_exports_its_targets_and_reads_them_back():
    rows = [(0.5, -1.0, 0.3, False), (1.0, 2.0, -0.75, True), (3.0, 4.0, 1.0, False)]
    text = points_to_csv(rows, regression=True)
    assert text.splitlines()[0] == "x1,x2,target,split"
    back = read_points_csv(text)
    assert [(p.x1, p.x2, p.label, p.test) for p in back] == rows
    assert is_regression(back)
