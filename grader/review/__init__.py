"""Review a graded class: common mistakes, near-copies, the gradebook."""
