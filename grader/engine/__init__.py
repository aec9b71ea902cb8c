"""The grading engine: one exercise of one submission, one student's parcel of files."""
