"""Find the course and resolve exercise references the way students type them."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.course.find import Course, CourseError

REPO = Path(__file__).resolve().parents[2]


def make_course(root: Path, *exercises: str, checks: bool = True) -> Path:
    """Write a minimal course with the given exercise folders; return its root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "course.toml").write_text('title = "A small course"\n', encoding="utf-8")
    for name in exercises:
        (root / "exercises" / name).mkdir(parents=True)
        if checks:
            (root / "checks" / name).mkdir(parents=True)
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A course shaped like the real one, independent of which checks exist today."""
    root = tmp_path_factory.mktemp("course")
    names = ("01_leaf_tensors", "02_vector_grad_mean", "03_multi_input_grads", "07_fit_line")
    return Course.load(make_course(root, *names))


@pytest.mark.parametrize(
    "ref",
    [
        "03",
        "3",
        "003",
        " 03 ",
        "exercises/03",
        "exercises/03/",
        "exercises/03_multi_input_grads/",
        "exercises\\03_multi_input_grads\\",
        "03_multi",
        "03_multi_input_grads",
    ],
)
def test_references_resolve_to_one_exercise(course: Course, ref: str) -> None:
    assert course.exercise(ref).name == "03_multi_input_grads"


def test_exercise_knows_its_folders() -> None:
    exercise = Course.load(REPO).exercise("01")
    assert exercise.folder == REPO / "exercises" / "01_leaf_tensors"
    assert exercise.checks == REPO / "checks" / "01_leaf_tensors"
    assert exercise.solution == REPO / "solutions" / "01_leaf_tensors" / "solution.py"
    assert exercise.number == "01"
    assert exercise.mistakes, "exercise 01 ships known mistakes"


@pytest.mark.parametrize("ref", ["99", "08", "0", "nope", "exercises/42_answer", "leaf"])
def test_unknown_exercise_lists_the_exercises(course: Course, ref: str) -> None:
    with pytest.raises(CourseError) as info:
        course.exercise(ref)
    message = str(info.value)
    assert "unknown exercise" in message
    assert repr(ref) in message
    for exercise in course.exercises:
        assert exercise.name in message
    assert "\n" not in message


@pytest.mark.parametrize("ref", ["03", "3", "03_", "exercises/03"])
def test_ambiguous_reference_names_the_candidates(tmp_path: Path, ref: str) -> None:
    course = Course.load(make_course(tmp_path, "03_alpha", "03_beta", "04_gamma"))
    with pytest.raises(CourseError) as info:
        course.exercise(ref)
    message = str(info.value)
    assert "several" in message
    assert "03_alpha" in message and "03_beta" in message
    assert "04_gamma" not in message
    # A longer prefix settles it.
    assert course.exercise("03_b").name == "03_beta"


def test_unknown_exercise_in_an_empty_course_says_none(tmp_path: Path) -> None:
    course = Course.load(make_course(tmp_path))
    assert course.exercises == ()
    with pytest.raises(CourseError, match="none"):
        course.exercise("01")


def test_only_folders_with_checks_and_a_numbered_name_are_exercises(tmp_path: Path) -> None:
    root = make_course(tmp_path, "01_first", "02_second")
    (root / "exercises" / "03_no_checks").mkdir()
    (root / "exercises" / "notes").mkdir()
    (root / "checks" / "notes").mkdir()
    (root / "exercises" / "04_a_file.py").write_text("")
    course = Course.load(root)
    assert [e.name for e in course.exercises] == ["01_first", "02_second"]
    assert course.title == "A small course"


def test_select_takes_a_comma_separated_list(course: Course) -> None:
    assert [e.name for e in course.select("03,07")] == ["03_multi_input_grads", "07_fit_line"]
    assert [e.name for e in course.select("1, ,2")] == [
        "01_leaf_tensors",
        "02_vector_grad_mean",
    ]
    assert course.select(None) == list(course.exercises)
    assert course.select("") == list(course.exercises)
    with pytest.raises(CourseError):
        course.select("01,99")


def test_find_walks_up_to_the_course_root(tmp_path: Path) -> None:
    root = make_course(tmp_path / "course", "01_first")
    deep = root / "exercises" / "01_first" / "scratch" / "deeper"
    deep.mkdir(parents=True)
    assert Course.find(deep).root == root.resolve()
    assert Course.find(root).root == root.resolve()


def test_find_uses_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_course(tmp_path / "course", "01_first")
    monkeypatch.chdir(root / "exercises" / "01_first")
    assert Course.find().root == root.resolve()


def test_find_without_a_course_says_so(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="no course found") as info:
        Course.find(tmp_path)
    assert "course.toml" in str(info.value)
    assert "--course" in str(info.value)


def test_load_without_course_toml(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="has no course.toml"):
        Course.load(tmp_path)


@pytest.mark.parametrize(
    "text",
    ['title = "unterminated\n', "title = \n", "[[[\n", b"\xff\xfe not toml".decode("latin-1")],
)
def test_corrupt_course_toml(tmp_path: Path, text: str) -> None:
    (tmp_path / "course.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CourseError, match="not valid TOML") as info:
        Course.load(tmp_path)
    assert str(tmp_path / "course.toml") in str(info.value)


def test_title_defaults_to_the_folder_name(tmp_path: Path) -> None:
    root = tmp_path / "autograd101"
    root.mkdir()
    (root / "course.toml").write_text("", encoding="utf-8")
    assert Course.load(root).title == "autograd101"
