"""Tables for the Temporal UI's workflow summary and details (Markdown).

The UI bundled with the dev server (2.54) parses GitHub tables but draws them without borders
or cell padding, so the header cells run together ("qtyshippeddelivered..."). A fenced code
block is drawn in a monospace font as it is written, so its columns line up in every UI
version, and it reads the same in `temporal workflow describe` and in logs.

Pure string functions: safe in the workflow sandbox."""

from __future__ import annotations

from collections.abc import Sequence

FENCE = "```"
MAX_CELL = 40  # a long cell (a reason, a URL) is cut so one column cannot push the rest away


# Characters Markdown (and the UI's math extension: $...$) would read as syntax in free text.
_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>$|#"})


def text(value: object) -> str:
    """Free text (a reason, a partner's message) shown as written: "$10.38 ... $12.69" must not
    become a formula, nor "shipment_event" half in italics."""
    return " ".join(str(value).split()).translate(_SPECIAL)


def _cell(value: object) -> str:
    text = " ".join(str(value).split())  # no newline or tab may break a row
    text = text.replace(FENCE, "'''")  # nor close the block early
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def code_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A fenced block with aligned columns: text left, numbers right."""
    cells = [[_cell(h) for h in headers], *([_cell(v) for v in row] for row in rows)]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) if rows else False
        for i in range(len(headers))
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        parts = [
            r[i].rjust(widths[i]) if numeric[i] else r[i].ljust(widths[i])
            for i in range(len(headers))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([FENCE, *(line(r) for r in cells), FENCE])
