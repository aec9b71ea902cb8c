"""Give the platform back its feedback: each report in a zip the platform's bulk upload matches.

- Canvas, "Re-Upload Submissions" (``Assignment#infer_comment_context_from_filename``):
  Canvas splits a file's name at ``_`` and takes the first two all-digit
  parts as the user id and the attachment id; the attachment must be one of
  that student's submitted files, and the file becomes a comment on that
  submission. Each report is named as the download named the student's
  file: ``{name}[_LATE]_{user id}_{attachment id}_report.html``
  (``[LATE_]anon_{id}_...`` for an anonymous download), with the id of the
  latest file graded.
- Moodle, "Upload multiple feedback files in a zip"
  (``assignfeedback_file_zip_importer::is_valid_filename_for_import``):
  Moodle splits each folder of a path at ``_`` into name, participant id,
  plugin type and plugin, and files what is inside as feedback for that
  participant. Each report goes into a folder named exactly as the
  download named the participant's:
  ``{Full Name}_{participant id}_assignsubmission_file_/report.html``.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from grader.intake.placement import Intake, Placed

__all__ = ["FEEDBACK_FILE", "feedback_name", "write_feedback"]

FEEDBACK_FILE = "report.html"


def feedback_name(student: Placed) -> str | None:
    """Return where ``student``'s report goes in the platform's feedback zip (None: nowhere)."""
    identity = student.identity
    if identity.platform == "canvas":
        attachments = sorted(student.attachments, key=int)
        if not attachments:
            return None  # Canvas matches a comment by an uploaded file: a text entry has none
        return f"{identity.prefix}_{attachments[-1]}_{FEEDBACK_FILE}"
    if identity.platform == "moodle":
        return f"{identity.prefix}/{FEEDBACK_FILE}"
    return None


def write_feedback(
    out: Path, intake: Intake, folders: dict[str, str]
) -> tuple[str | None, list[str]]:
    """Write ``OUT/feedback-{platform}.zip`` from OUT's reports; return its name, who is left out.

    Only for a Canvas or a Moodle download; the zip is replaced whole, so a
    platform never gets half of one.
    """
    if intake.layout not in ("canvas", "moodle"):
        return None, []
    name = f"feedback-{intake.layout}.zip"
    left_out = []
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for student in intake.students:
                entry = feedback_name(student)
                report = out / folders[student.name] / "report.html"
                if entry is None or not report.is_file():
                    left_out.append(student.name)
                    continue
                archive.write(report, entry)
        os.replace(tmp, out / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name, left_out
