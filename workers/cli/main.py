"""The `dom` command line: one typer app; each domain module adds its own commands."""

import typer

app = typer.Typer(
    help="dom-workflows: distributed order management on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
