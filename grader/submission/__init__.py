"""Read the submission: find a student's file and turn it into source; nothing runs."""
