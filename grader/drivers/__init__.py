"""The commands that drive the engine: a student's grade, a class's batch, a cluster, a watch."""
