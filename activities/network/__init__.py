"""The live, versioned network: the version store (apply, history, rollback, node lifecycle) and
the per-version cache routing reads."""
