"""The code that runs beside a submission, in the untrusted child process.

Nothing here may import the rest of the grader: the child must never load
the checks, the reference solutions or anything that could help forge a grade.
"""
