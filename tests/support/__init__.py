"""Helpers for the test modules: running the workflow, a SLURM cluster, reliability checks."""
