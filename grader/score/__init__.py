"""Score: turn verdicts into points and the one typed results record."""
