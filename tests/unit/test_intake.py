"""The intake of ``grade batch``: platform downloads built to each platform's naming rules.

The fixtures are written here, under tmp_path, the way Canvas's
``lib/content_zipper.rb`` and Moodle's ``mod/assign`` download name files;
the feedback zips are read back the way each platform's upload reads them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grader.intake import (
    Intake,
    IntakeError,
    intake_table,
    opened,
    read_handed,
    report_folders,
    roster_from,
    take,
    write_feedback,
)
from grader.intake import archive as archive_module
from grader.intake.feedback import feedback_name
from grader.intake.folders import RESERVED
from grader.intake.names import match_file
from grader.intake.place import place_into
from grader.review.gradebook import RosterError

EXERCISES = (
    "01_leaf_tensors",
    "02_vector_grad_mean",
    "03_multi_input_grads",
    "04_no_grad",
    "05_grad_accumulation",
    "06_minimize_square",
    "07_fit_line",
)
GRADED = ("01_leaf_tensors", "03_multi_input_grads")
CODE = "def f():\n    return 1\n"


# -- the platforms' naming rules, as their download code writes them ------------------
def canvas_name(
    sortable: str | None, user: str, attachment: int, file: str, *, late: bool = False
) -> str:
    """Name a file as Canvas's "Download Submissions" does (``sortable`` None: anonymous)."""
    if sortable is None:
        head = "_".join([*(["LATE"] if late else []), f"anon_{user}"])
    else:
        # sanitize_user_name: "_12_" joined to "12", lowercased; then [name, LATE, id].
        name = re.sub(r"_(\d+)_", r"\1", sortable).lower()
        head = "_".join([name, *(["LATE"] if late else []), user])
    head = re.sub(r"[^\w]", "", head)  # sanitize_file_name: non-word characters go
    file = re.sub(r'[\x00/\\:*?"<>|]+', "_", file)  # sanitize_attachment_filename
    return f"{head}_{attachment}_{file}"


def canvas_text_entry(sortable: str, user: str) -> str:
    name = re.sub(r"[^\w]", "", sortable.lower())
    return f"{name}_{user}_text.html"


def moodle_folder(
    full_name: str, participant: str, plugin: str = "file", *, new: bool = False
) -> str:
    """Name a participant's folder as Moodle's "Download all submissions" does (before 4.1: "_")."""
    prefix = full_name.replace("_", " ") + "_" + participant
    return f"{prefix}_assignsubmission_{plugin}" + ("" if new else "_")


def make_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@contextmanager
def taken(
    archive: Path, graded: tuple[str, ...] = GRADED, layout: str | None = None
) -> Iterator[Intake]:
    with opened(archive) as root:
        yield take(root, EXERCISES, graded, layout)


def placed_names(intake: Intake) -> dict[str, dict[str, str | None]]:
    """Project the intake on student -> exercise -> the file used (as the student named it)."""
    return {
        s.name: {e: (f.shown if f else None) for e, f in s.files.items()} for s in intake.students
    }


def unplaced(intake: Intake) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in intake.record()["unplaced"]:
        found.setdefault(row["student"] or "", []).append(row["path"])
    return found


# -- Canvas ---------------------------------------------------------------------------
def canvas_class(tmp_path: Path) -> Path:
    return make_zip(
        tmp_path / "canvas.zip",
        {
            canvas_name(
                "Smith, Bob", "340934", 208490284, "03_multi_input_grads.py", late=True
            ): CODE,
            canvas_name("Smith, Bob", "340934", 208490285, "01_leaf_tensors.py", late=True): CODE,
            # A resubmission: Canvas numbers the file and gives it a later attachment id.
            canvas_name("Núñez, José", "1001", 5, "01_leaf_tensors.py"): CODE,
            canvas_name("Núñez, José", "1001", 9, "01_leaf_tensors-1.py"): CODE,
            canvas_name("王, 小明", "1002", 11, "03 multi input grads.py"): CODE,
            canvas_name("van der Berg, Anna", "1004", 12, "08_backprop.py"): CODE,
            canvas_name("van der Berg, Anna", "1004", 13, "exercise03.PY"): CODE,
            canvas_text_entry("Doe, Jane", "1003"): "<p>my answer is 42</p>",
        },
    )


def test_a_canvas_download_places_each_file_for_its_student(tmp_path: Path) -> None:
    with taken(canvas_class(tmp_path)) as intake:
        assert intake.layout == "canvas"
        assert placed_names(intake) == {
            "doejane": {"01_leaf_tensors": None, "03_multi_input_grads": None},
            "núñezjosé": {"01_leaf_tensors": "01_leaf_tensors-1.py", "03_multi_input_grads": None},
            "smithbob": {
                "01_leaf_tensors": "01_leaf_tensors.py",
                "03_multi_input_grads": "03_multi_input_grads.py",
            },
            "vanderberganna": {"01_leaf_tensors": None, "03_multi_input_grads": "exercise03.PY"},
            "王小明": {"01_leaf_tensors": None, "03_multi_input_grads": "03 multi input grads.py"},
        }
        by_name = {s.name: s for s in intake.students}
        assert by_name["smithbob"].identity.record() == {
            "platform": "canvas",
            "name": "smithbob",
            "id": "340934",
            "late": True,
            "anonymous": False,
        }
        assert not by_name["núñezjosé"].identity.late
        # The latest of two uploads is used, and the table says so.
        (choice,) = by_name["núñezjosé"].choices
        assert (choice.used, choice.others) == ("01_leaf_tensors-1.py", ("01_leaf_tensors.py",))
        assert unplaced(intake) == {
            "doejane": ["doejane_1003_text.html"],
            "vanderberganna": ["08_backprop.py"],
        }
        reasons = {row["path"]: row["why"] for row in intake.record()["unplaced"]}
        assert "text entry" in reasons["doejane_1003_text.html"]
        assert "does not have" in reasons["08_backprop.py"]
        table = intake_table(intake, list(GRADED))
        assert table.startswith("grade: found a Canvas download: 5 student(s)")
        assert all(line.startswith("  ") for line in table.splitlines()[1:])
        assert "LATE" in table and "08_backprop.py" in table and "text entry" in table
        assert "used 01_leaf_tensors-1.py, not 01_leaf_tensors.py" in table


def test_an_anonymous_canvas_download_keeps_the_anonymous_ids(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "anon.zip",
        {
            canvas_name(None, "Gf7Ab", 208, "03_multi_input_grads.py"): CODE,
            canvas_name(None, "X1y2Z", 209, "Copy of exercise.ipynb", late=True): "{}",
        },
    )
    with taken(archive, graded=("03_multi_input_grads",)) as intake:
        assert intake.layout == "canvas"
        assert placed_names(intake) == {
            "anonymous Gf7Ab": {"03_multi_input_grads": "03_multi_input_grads.py"},
            "anonymous X1y2Z": {"03_multi_input_grads": "Copy of exercise.ipynb"},
        }
        late = next(s for s in intake.students if s.identity.id == "X1y2Z")
        assert late.identity.anonymous and late.identity.late
        assert late.identity.prefix == "LATE_anon_X1y2Z"
        with pytest.raises(RosterError, match="anonymous"):
            roster_from(intake, "canvas")


def test_the_canvas_feedback_zip_carries_the_ids_of_the_download(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with taken(canvas_class(tmp_path)) as intake:
        folders = report_folders(s.name for s in intake.students)
        for student in intake.students:
            (out / folders[student.name]).mkdir(parents=True)
            (out / folders[student.name] / "report.html").write_text(student.name)
        name, left_out = write_feedback(out, intake, folders)
        downloaded = {p.name for p in intake.root.iterdir()}
    assert name == "feedback-canvas.zip"
    assert left_out == ["doejane"]  # a text entry: Canvas has no uploaded file to attach it to
    with zipfile.ZipFile(out / name) as archive:
        entries = {info.filename: archive.read(info).decode() for info in archive.infolist()}
    # Read back as Canvas reads a re-uploaded file: the first two all-digit parts.
    ids_in_download = set()
    for file in downloaded:
        numbers = [p for p in file.split("_") if p.isdigit()][:2]
        ids_in_download.add(tuple(numbers))
    assert len(entries) == 4
    for entry, page in entries.items():
        user, attachment = [p for p in entry.split("_") if p.isdigit()][:2]
        assert (user, attachment) in ids_in_download, entry
        assert entry.startswith(page.replace("smithbob", "smithbob_LATE") + "_" + user)
    assert "smithbob_LATE_340934_208490285_report.html" in entries


def test_gradebook_without_a_roster_takes_the_canvas_ids(tmp_path: Path) -> None:
    with taken(canvas_class(tmp_path)) as intake:
        roster = roster_from(intake, "canvas")
        assert roster.rows["smithbob"] == {
            "folder": "smithbob",
            "student": "smithbob",
            "id": "340934",
        }
        with pytest.raises(RosterError, match="--roster"):
            roster_from(intake, "moodle")


# -- Moodle ---------------------------------------------------------------------------
def test_a_moodle_download_in_folders_names_students_by_full_name(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "moodle.zip",
        {
            f"{moodle_folder('Jane Doe', '12345')}/03_multi_input_grads.py": CODE,
            f"{moodle_folder('Jane Doe', '12345')}/notes.py": CODE,
            f"{moodle_folder('Jane Doe', '12345', 'onlinetext')}/onlinetext.html": "<p>hi</p>",
            f"{moodle_folder('José Núñez', '12346', new=True)}/01_leaf_tensors/exercise.py": CODE,
            f"{moodle_folder('Li Wei 李伟', '12347')}/01_leaf_tensors (1).py": CODE,
        },
    )
    with taken(archive) as intake:
        assert intake.layout == "moodle"
        assert placed_names(intake) == {
            "Jane Doe": {
                "01_leaf_tensors": None,
                "03_multi_input_grads": "03_multi_input_grads.py",
            },
            "José Núñez": {
                "01_leaf_tensors": "01_leaf_tensors/exercise.py",
                "03_multi_input_grads": None,
            },
            "Li Wei 李伟": {
                "01_leaf_tensors": "01_leaf_tensors (1).py",
                "03_multi_input_grads": None,
            },
        }
        jane = next(s for s in intake.students if s.name == "Jane Doe")
        assert jane.identity.record() == {
            "platform": "moodle",
            "name": "Jane Doe",
            "id": "12345",
            "anonymous": False,
            "group": "",
        }
        assert sorted(unplaced(intake)["Jane Doe"]) == ["notes.py", "onlinetext.html"]
        out = tmp_path / "out"
        folders = report_folders(s.name for s in intake.students)
        for student in intake.students:
            (out / folders[student.name]).mkdir(parents=True)
            (out / folders[student.name] / "report.html").write_text(student.identity.id)
        name, left_out = write_feedback(out, intake, folders)
        downloaded = {p.name for p in intake.root.iterdir() if "_assignsubmission_file" in p.name}
    assert (name, left_out) == ("feedback-moodle.zip", [])
    with zipfile.ZipFile(out / "feedback-moodle.zip") as feedback:
        entries = {info.filename: feedback.read(info).decode() for info in feedback.infolist()}
    assert len(entries) == 3
    for entry, participant in entries.items():
        folder, file = entry.split("/")
        assert folder in downloaded and file == "report.html"
        # As Moodle's importer splits a folder: name, participant id, plugin type, plugin.
        info = folder.split("_", 4)
        assert info[1] == participant and info[2:4] == ["assignsubmission", "file"]


def test_a_moodle_group_download_names_the_group(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "groups.zip",
        {
            f"{moodle_folder('Team A-Ann Lee', '801')}/03.py": CODE,
            f"{moodle_folder('Team A-Bo Chen', '802')}/03.py": CODE,
            f"{moodle_folder('Default group-Cy Dee', '803')}/exercise03.py": CODE,
        },
    )
    with taken(archive, graded=("03_multi_input_grads",)) as intake:
        assert placed_names(intake) == {
            "Ann Lee": {"03_multi_input_grads": "03.py"},
            "Bo Chen": {"03_multi_input_grads": "03.py"},
            "Cy Dee": {"03_multi_input_grads": "exercise03.py"},
        }
        groups = {s.name: s.identity.group for s in intake.students}
        assert groups == {"Ann Lee": "Team A", "Bo Chen": "Team A", "Cy Dee": "Default group"}
        # Feedback goes back under the download's own folder name, group and all.
        ann = next(s for s in intake.students if s.name == "Ann Lee")
        assert feedback_name(ann) == "Team A-Ann Lee_801_assignsubmission_file_/report.html"


def test_blind_and_flat_moodle_downloads(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "moodle.zip",
        {
            # Blind marking, an assignment of one exercise: exercise.py is that one.
            f"{moodle_folder('Participant', '777')}/exercise.py": CODE,
            # Before Moodle 3.1, one flat file per upload.
            f"{moodle_folder('Jane Doe', '12345')}03_multi_input_grads.py": CODE,
            # A hyphenated name in an ordinary download is a name, not a group.
            f"{moodle_folder('Anne-Marie Curie', '901')}/03.py": CODE,
            f"{moodle_folder('Anne-Sophie Roux', '902')}/03.py": CODE,
        },
    )
    with taken(archive, graded=("03_multi_input_grads",)) as intake:
        assert intake.layout == "moodle"
        files = placed_names(intake)
        assert files == {
            "Anne-Marie Curie": {"03_multi_input_grads": "03.py"},
            "Anne-Sophie Roux": {"03_multi_input_grads": "03.py"},
            "Jane Doe": {"03_multi_input_grads": "03_multi_input_grads.py"},
            "Participant 777": {"03_multi_input_grads": "exercise.py"},
        }
        identities = {s.name: s.identity for s in intake.students}
        assert identities["Participant 777"].anonymous
        assert identities["Anne-Marie Curie"].group == ""
        # The flat file's feedback goes into a folder named as Moodle's importer expects.
        jane = next(s for s in intake.students if s.name == "Jane Doe")
        assert feedback_name(jane) == "Jane Doe_12345_assignsubmission_file_/report.html"


# -- names in zips ----------------------------------------------------------------------
class _RawName(zipfile.ZipInfo):
    """An entry whose name is written as given bytes, without the UTF-8 flag."""

    def __init__(self, name: str, raw: bytes) -> None:
        super().__init__(name)
        self._raw = raw

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 -- zipfile's own name
        return self._raw, self.flag_bits & ~0x800


@pytest.mark.parametrize("encoding", ["utf-8", "cp437"])
def test_zip_names_without_the_utf8_flag_keep_the_students_names(
    tmp_path: Path, encoding: str
) -> None:
    # Info-ZIP and macOS write UTF-8 without the flag; Windows' zip folders write cp437.
    archive = tmp_path / f"{encoding}.zip"
    names = ["José Núñez/01_leaf_tensors.py", "Zoë Ärger/01_leaf_tensors.py"]
    with zipfile.ZipFile(archive, "w") as z:
        for name in names:
            z.writestr(_RawName(name, name.encode(encoding)), CODE)
    with zipfile.ZipFile(archive) as z:
        assert not any(info.flag_bits & 0x800 for info in z.infolist())
    with taken(archive) as intake:
        assert [s.name for s in intake.students] == ["José Núñez", "Zoë Ärger"]


def test_backslashes_of_windows_tools_are_folders(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "win.zip", {"ana\\01.py": CODE, "ben\\03\\exercise.py": CODE})
    with taken(archive) as intake:
        assert placed_names(intake) == {
            "ana": {"01_leaf_tensors": "01.py", "03_multi_input_grads": None},
            "ben": {"01_leaf_tensors": None, "03_multi_input_grads": "03/exercise.py"},
        }
    slip = make_zip(tmp_path / "slip.zip", {"ana\\01.py": CODE, "..\\..\\evil.py": CODE})
    with pytest.raises(IntakeError, match="outside"), opened(slip):
        pass


def test_a_decomposed_name_from_macos_is_composed(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "nfd.zip", {"Jose\u0301/01.py": CODE})
    with taken(archive) as intake:
        assert [s.name for s in intake.students] == ["Jos\u00e9"]


# -- the zip guards, for every layout -----------------------------------------------------
LAYOUT_ENTRIES = {
    "canvas": canvas_name("Smith, Bob", "1", 2, "01.py"),
    "moodle": f"{moodle_folder('Jane Doe', '12345')}/01.py",
    "repos": "autograd-ana/exercises/01_leaf_tensors/exercise.py",
    "folders": "ana/01.py",
}


@pytest.mark.parametrize("layout", sorted(LAYOUT_ENTRIES))
@pytest.mark.parametrize("attack", ["slip", "absolute", "link", "bomb", "many"])
def test_the_zip_guards_hold_for_every_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, attack: str
) -> None:
    archive = tmp_path / "attack.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(LAYOUT_ENTRIES[layout], CODE)
        if attack == "slip":
            z.writestr("../../evil.py", CODE)
        elif attack == "absolute":
            z.writestr(zipfile.ZipInfo("/tmp/evil.py"), CODE)
        elif attack == "link":
            link = zipfile.ZipInfo(LAYOUT_ENTRIES[layout].rsplit("/", 1)[0] + "/02.py")
            link.external_attr = 0o120777 << 16
            z.writestr(link, "/etc/passwd")
        elif attack == "bomb":
            monkeypatch.setattr(archive_module, "MAX_UNZIPPED", 1000)
            z.writestr("big.py", "x" * 2000)
        else:
            monkeypatch.setattr(archive_module, "MAX_ENTRIES", 10)
            for number in range(11):
                z.writestr(f"empty-{number}.txt", "")
    words = {
        "slip": "outside",
        "absolute": "outside",
        "link": "symbolic link",
        "bomb": "2 GiB",
        "many": "entries",
    }
    with pytest.raises(IntakeError, match=words[attack]), opened(archive):
        pass
    assert not (tmp_path.parent / "evil.py").exists()


def test_a_zip_with_nothing_recognisable_says_what_was_expected(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "odd.zip", {"readme.txt": "hello"})
    with pytest.raises(IntakeError, match="Canvas.*Moodle.*--layout"), taken(archive):
        pass
    with pytest.raises(IntakeError, match="--layout moodle"), taken(archive, layout="moodle"):
        pass


# -- repositories and folders -------------------------------------------------------------
def test_repository_clones_are_named_by_the_user_name(tmp_path: Path) -> None:
    for user in ("ana", "ben-li"):
        work = tmp_path / "class" / f"autograd-2026-{user}"
        (work / ".git").mkdir(parents=True)
        (work / ".git" / "03.py").write_text(CODE)  # never the student's work
        for exercise in EXERCISES:
            (work / "exercises" / exercise).mkdir(parents=True)
            (work / "exercises" / exercise / "exercise.py").write_text(CODE)
            (work / "exercises" / exercise / "README.md").write_text("# task\n")
    intake = take(tmp_path / "class", EXERCISES, GRADED, None)
    assert intake.layout == "repos"
    assert [s.name for s in intake.students] == ["ana", "ben-li"]
    assert intake.students[1].identity.record() == {
        "platform": "repos",
        "name": "ben-li",
        "id": "ben-li",
    }
    for student in intake.students:
        assert {e: f.shown for e, f in student.files.items() if f} == {
            e: f"exercises/{e}/exercise.py" for e in GRADED
        }
        assert student.unplaced == [] and student.choices == []


def test_a_link_out_of_the_student_folder_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 1\n")
    (tmp_path / "class" / "ana").mkdir(parents=True)
    (tmp_path / "class" / "ana" / "01.py").symlink_to(secret)
    intake = take(tmp_path / "class", EXERCISES, GRADED, None)
    file = read_handed(intake.students[0].files["01_leaf_tensors"])
    assert file is not None and file.raw is None
    assert "symbolic link out of the student's folder" in file.problem


# -- names --------------------------------------------------------------------------------
PLACED = {
    "03.py": "03_multi_input_grads",
    "3.py": "03_multi_input_grads",
    "03/exercise.py": "03_multi_input_grads",
    "exercise03.py": "03_multi_input_grads",
    "exercise-03.py": "03_multi_input_grads",
    "03_Multi_Input_Grads.py": "03_multi_input_grads",
    "03_multi_input_grads (1).py": "03_multi_input_grads",
    "03_multi_input_grads-1.py": "03_multi_input_grads",
    "03_MULTI_INPUT_GRADS.PY": "03_multi_input_grads",
    "03_multi_input_grads/exercise (1).py": "03_multi_input_grads",
    "03_multi_input_grads/Copy of exercise.ipynb": "03_multi_input_grads",
    "03 - Copy/exercise - Copy.py": "03_multi_input_grads",
    "work/exercises/03_multi_input_grads/exercise.py": "03_multi_input_grads",
    "01_leaf_tensors.ipynb": "01_leaf_tensors",
}
NOT_PLACED = {
    "notes.py": "names no exercise",
    "my_work.zip": "not looked into",
    "03_multi_input_grads.txt": "only .py and .ipynb",
    "08_backprop.py": "does not have",
    "exercise.py": "could be any of the 2",
    "01_leaf_tensors/03.py": "could be",
}


@pytest.mark.parametrize("path", sorted(PLACED))
def test_names_students_give_their_files(path: str) -> None:
    match = match_file(tuple(path.split("/")), EXERCISES, GRADED)
    assert match.exercise == PLACED[path] and match.strong, match


@pytest.mark.parametrize("path", sorted(NOT_PLACED))
def test_files_that_fit_no_exercise_say_why(path: str) -> None:
    match = match_file(tuple(path.split("/")), EXERCISES, GRADED)
    assert match.exercise is None and NOT_PLACED[path] in match.why


def test_non_code_files_named_for_nothing_are_not_listed() -> None:
    for path in ("README.md", "screenshot.png", "03_multi_input_grads/README.md"):
        assert match_file(tuple(path.split("/")), EXERCISES, GRADED).why == ""


# -- output folders -------------------------------------------------------------------------
def test_output_folders_are_unique_and_never_the_batchs_own() -> None:
    names = ["bob", "bob.", "results.json", "Ann", "ann", ".state", "CON", "a/../b", "王" * 300]
    folders = report_folders(names)
    assert len(set(f.casefold() for f in folders.values())) == len(names)
    for folder in folders.values():
        assert folder.casefold() not in RESERVED
        assert "/" not in folder and folder not in ("", ".", "..")
        assert not folder.endswith((".", " "))
        assert len(folder.encode()) < 255
    assert folders["bob"] == "bob" and folders["bob."] == "bob-2"
    assert folders["CON"] == "_CON"
    assert report_folders(names) == folders  # the same class, the same folders


def test_control_characters_never_reach_a_name(tmp_path: Path) -> None:
    (tmp_path / "class" / "eve\x1b[31m\u202e").mkdir(parents=True)
    (tmp_path / "class" / "eve\x07").mkdir()
    (tmp_path / "class" / "eve").mkdir()
    intake = take(tmp_path / "class", EXERCISES, GRADED, None)
    assert sorted(s.name for s in intake.students) == ["eve", "eve (2)", "eve[31m"]
    for student in intake.students:
        assert student.identity.id.isprintable()


def test_the_table_fits_one_screen_for_a_large_class(tmp_path: Path) -> None:
    for number in range(200):
        (tmp_path / "class" / f"student{number:03d}").mkdir(parents=True)
        (tmp_path / "class" / f"student{number:03d}" / "notes.py").write_text(CODE)
    intake = take(tmp_path / "class", EXERCISES, GRADED, None)
    table = intake_table(intake, list(GRADED)).splitlines()
    assert len(table) < 45
    assert "... and 180 more" in "\n".join(table)
    assert len(intake.record()["unplaced"]) == 200  # all of them kept in results.json


# -- Gradescope ---------------------------------------------------------------------------
def test_the_gradescope_intake_places_renamed_files(tmp_path: Path) -> None:
    course = tmp_path / "course"
    for exercise in EXERCISES[:3]:
        (course / "exercises" / exercise).mkdir(parents=True)
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "03_Multi_Input_Grads (1).py").write_text("ANSWER = 3\n")
    (submission / "Copy of 01.ipynb").write_text("{}")
    (submission / "notes.py").write_text(CODE)
    lines = place_into(submission, course)
    assert (course / "exercises/03_multi_input_grads/exercise.py").read_text() == "ANSWER = 3\n"
    assert (course / "exercises/01_leaf_tensors/exercise.ipynb").read_text() == "{}"
    assert not list((course / "exercises/02_vector_grad_mean").iterdir())
    assert "02_vector_grad_mean: nothing handed in" in lines
    assert any(line.startswith("not graded: notes.py") for line in lines)


def test_a_clone_of_the_released_copy_lists_none_of_the_courses_own_files(tmp_path: Path) -> None:
    work = tmp_path / "class" / "autograd-ana"
    for relative in (
        "exercises/01_leaf_tensors/exercise.py",
        "exercises/03_multi_input_grads/exercise.py",
        "checks/01_leaf_tensors/test_leaf_tensors.py",
        "grader/cli.py",
        "exercises/03_multi_input_grads/scratch.py",
    ):
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / relative).write_text(CODE)
    (tmp_path / "class" / "autograd-ben" / "exercises").mkdir(parents=True)
    intake = take(tmp_path / "class", EXERCISES, GRADED, None)
    ana = intake.students[0]
    assert {e: f.shown for e, f in ana.files.items() if f} == {
        e: f"exercises/{e}/exercise.py" for e in GRADED
    }
    assert ana.unplaced == []
    # The student's own extra file in the exercise's folder is named as not used.
    (choice,) = ana.choices
    assert choice.others == ("exercises/03_multi_input_grads/scratch.py",)


def _zip_bytes(files: dict[str, str], link: str = "") -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16
            z.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def test_a_zip_a_student_uploaded_is_looked_into_never_unpacked(tmp_path: Path) -> None:
    upload = _zip_bytes(
        {
            "homework/01_leaf_tensors.py": "ANSWER = 1\n",
            "homework/03/exercise.py": "ANSWER = 3\n",
            "homework/inner.zip": "not opened",
            "__MACOSX/homework/._01_leaf_tensors.py": "resource fork",
            "../../evil.py": CODE,
        },
        link="homework/01_leaf_tensors (1).py",
    )
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(canvas_name("Lee, Kim", "2001", 31, "homework.zip"), upload)
    with taken(archive) as intake:
        (kim,) = intake.students
        shown = {e: f.shown if f else None for e, f in kim.files.items()}
        assert shown["03_multi_input_grads"] == "homework.zip/homework/03/exercise.py"
        third = read_handed(kim.files["03_multi_input_grads"])
        assert third is not None and third.raw == b"ANSWER = 3\n"
        # A link inside (the later copy, so the one used) is refused when read.
        linked = read_handed(kim.files["01_leaf_tensors"])
        assert linked is not None and linked.raw is None and "symbolic link" in linked.problem
        assert kim.choices[0].others == ("homework.zip/homework/01_leaf_tensors.py",)
        assert [p for p, _ in kim.unplaced] == ["homework.zip/homework/inner.zip"]
        assert kim.attachments == ["31", "31"]
        root = intake.root
    assert not (tmp_path / "evil.py").exists() and not root.exists()


def test_a_broken_zip_a_student_uploaded_is_listed(tmp_path: Path) -> None:
    (tmp_path / "class" / "ana").mkdir(parents=True)
    (tmp_path / "class" / "ana" / "work.zip").write_bytes(b"PK\x03\x04 not really")
    intake = take(tmp_path / "class", EXERCISES, GRADED, None)
    ((path, why),) = intake.students[0].unplaced
    assert path == "work.zip" and "cannot be opened" in why
