"""Judge: run the hidden checks against the submission's answers and name each mistake."""
