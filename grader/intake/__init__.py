"""Take a class's work as it comes: a folder per student, a Canvas or Moodle download, clones.

The stages, one module each: ``archive`` opens a folder or unpacks a zip
safely, ``layouts`` recognises the layout and finds each student's files
and identity, ``names`` tells which exercise a file is for, ``placement``
places files on exercises and lists what it could not place, ``table``
shows it before grading, ``folders`` names each student's folder in OUT,
``feedback`` writes the platform's feedback zip, ``roster`` builds a
gradebook roster from the download's ids.
"""

from grader.intake.archive import IntakeError, opened
from grader.intake.feedback import write_feedback
from grader.intake.folders import report_folders
from grader.intake.layouts import LAYOUTS, Handed, Identity
from grader.intake.placement import Intake, Placed, read_handed, take
from grader.intake.roster import roster_from
from grader.intake.table import intake_table

__all__ = [
    "LAYOUTS",
    "Handed",
    "Identity",
    "Intake",
    "IntakeError",
    "Placed",
    "intake_table",
    "opened",
    "read_handed",
    "report_folders",
    "roster_from",
    "take",
    "write_feedback",
]
