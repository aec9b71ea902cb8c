"""``grade batch``: a whole class, in stages (see ``whole_class``)."""

from grader.drivers.batch.errors import BatchError
from grader.drivers.batch.whole_class import run, students_in

__all__ = ["BatchError", "run", "students_in"]
