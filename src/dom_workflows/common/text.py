"""Words in what ops read (timelines, summaries, escalations)."""


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 line`, `2 lines`, `0 units`."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def units(n: int) -> str:
    return count(n, "unit")
