"""The course author's commands: lay out, lint, self-test and release a course."""
