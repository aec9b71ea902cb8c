"""Find the course: its exercises, what each brings as data, and its rules."""
