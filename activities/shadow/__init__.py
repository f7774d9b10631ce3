"""Shadow policies and what-if: candidate routing policies planned beside the live one (no effect
on the ledger), their per-order deltas recorded and summarised, and recorded orders replayed
offline against a new policy or network (docs/shadow.md)."""
