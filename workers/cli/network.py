"""`dom network apply|history|show|rollback|scopes` and `dom node enable|disable|drain`: the live,
versioned network in the DOM database. Every change is a new version recorded with who made it;
workers route with it from the next routing attempt, no restart."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.table import Table

from workers.cli.common import console, database_url, fail, not_found, print_json, run, settings
from workers.cli.nodes import _who, node_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from activities.network.store import ApplyResult

T = TypeVar("T")

network_app = typer.Typer(
    help="The versioned network: nodes, SLAs, capacities, rules, lifecycle and rollout scopes.",
    no_args_is_help=True,
)


def _with_db(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on the migrated DOM database, with version 1 seeded from the configured files
    when there is none yet (as a worker's first start does)."""
    import sqlalchemy as sa

    from activities.inventory.db import create_engine, migrate, seed_network
    from activities.network import store
    from dom_workflows.network import load_network
    from dom_workflows.routing import load_policy

    url = database_url(create=True)

    async def go() -> T:
        s = settings()
        engine = create_engine(url)
        try:
            await migrate(engine)
            network = load_network(s.network_path)
            await seed_network(engine, network)
            await store.seed(engine, network, load_policy(s.policy_path))
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return run(go())
    except store.InvalidDocument as e:
        raise fail(f"refused, nothing changed: {e}") from None
    except store.VersionConflict as e:
        raise fail(f"{e}; run the command again") from None
    except store.UnknownVersion as e:
        raise not_found(str(e)) from None
    except LookupError as e:
        raise not_found(str(e)) from None
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(f"cannot use the DOM database: {str(e).splitlines()[0]}") from None


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise fail(f"cannot read {path}: {e.strerror or e}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except ValueError as e:  # JSONDecodeError and yaml's errors (YAMLError is not one)
        raise fail(f"{path} is not valid JSON: {str(e).splitlines()[0]}") from None
    except Exception as e:
        raise fail(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None


def _report(result: ApplyResult, as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    for line in result.lines():
        console.print(line, highlight=False, markup=False)
    if result.applied is not None:
        v = result.applied
        console.print(f"version {v.version} is active (policy version {v.policy_version})")
    elif result.dry_run:
        console.print(f"dry run: version {result.previous} stays active")
    else:
        console.print(f"no change: version {result.previous} stays active")


@network_app.command("apply")
def apply_cmd(
    file: Path = typer.Argument(
        ..., help="A network document (JSON or YAML): see `show --document`."
    ),
    comment: str = typer.Option("", "--comment", "-m", help="Why (kept with the version)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show the diff only."),
    by: str | None = typer.Option(None, "--by", help="Who is changing it (default cli:<user>)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Validate a network document, show its diff against the active version and activate it."""
    from activities.network import store

    data = _read(file)
    _report(_with_db(lambda e: store.apply(e, data, _who(by), comment, dry_run=dry_run)), as_json)


@network_app.command("history")
def history_cmd(
    limit: int = typer.Option(50, min=1, max=1000), as_json: bool = typer.Option(False, "--json")
) -> None:
    """Every version, newest (the active one) first."""
    from activities.network import store

    async def work(engine: AsyncEngine) -> list[Any]:
        async with engine.connect() as conn:
            return await store.history(conn, limit)

    versions = _with_db(work)
    if as_json:
        print_json([v.model_dump(mode="json") for v in versions])
        return
    table = Table("version", "policy", "when", "who", "comment", title="Network versions")
    for i, v in enumerate(versions):
        mark = " (active)" if i == 0 else ""
        comment = v.comment + (f" [rollback of {v.rollback_of}]" if v.rollback_of else "")
        table.add_row(
            f"{v.version}{mark}", str(v.policy_version),
            v.created_at.isoformat(timespec="seconds"), v.author, comment,
        )  # fmt: skip
    console.print(table)


@network_app.command("show")
def show_cmd(
    version: int | None = typer.Argument(None, help="Default: the active version."),
    document: bool = typer.Option(
        False, "--document", help="Print only the document (JSON), ready to edit and apply."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One version: its nodes with their lifecycle and scopes, its rules and variants."""
    from activities.network import store

    async def work(engine: AsyncEngine) -> Any:
        async with engine.connect() as conn:
            return await store.get(conn, version)

    found = _with_db(work)
    if found is None:
        raise not_found("no network version yet")
    if document:
        print_json(found.document)
        return
    if as_json:
        print_json(found)
        return
    doc = found.document
    table = Table("node", "type", "state", "scope", title=f"Network version {found.version}")
    for n in doc.network.nodes:
        scope = doc.node_scopes.get(n.id)
        table.add_row(n.id, n.type, doc.state_of(n.id), scope.describe() if scope else "everyone")
    console.print(table)
    rules = Table("rule", "scope", title=f"Policy version {found.policy_version}")
    for r in doc.policy.rules:
        scope = doc.rule_scopes.get(r.name)
        rules.add_row(r.name, scope.describe() if scope else "everyone")
    for variant in doc.policy_variants:
        rules.add_row(f"[policy variant] {variant.name}", variant.scope.describe())
    console.print(rules)
    console.print(f"by {found.author} at {found.created_at.isoformat(timespec='seconds')}: "
                  f"{found.comment or '-'}")  # fmt: skip


@network_app.command("rollback")
def rollback_cmd(
    version: int,
    comment: str = typer.Option("", "--comment", "-m"),
    by: str | None = typer.Option(None, "--by", help="Who is changing it (default cli:<user>)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Activate a new version equal to an old one (the history keeps both)."""
    from activities.network import store

    _report(_with_db(lambda e: store.rollback(e, version, _who(by), comment)), as_json)


@network_app.command("scopes")
def scopes_cmd(order_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Which network version, policy version and scopes each routing attempt of an order used."""
    from activities.network.store import decisions_of

    rows = _with_db(lambda e: decisions_of(e, order_id))
    if not rows:
        raise not_found(f"no routing decision for order {order_id!r}")
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("attempt", "network", "policy", "scopes", title=order_id)
    for r in rows:
        table.add_row(
            str(r.route_attempt), str(r.network_version or "-"), r.policy_version or "-",
            ", ".join(r.scopes) or "(none scoped)",
        )  # fmt: skip
    console.print(table)


def _lifecycle(state: str) -> Callable[..., None]:
    def command(
        node: str,
        comment: str = typer.Option("", "--comment", "-m"),
        by: str | None = typer.Option(None, "--by", help="Who (default cli:<user>)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        from activities.network import store

        _report(
            _with_db(lambda e: store.set_node_state(e, node, state, _who(by), comment)),  # type: ignore[arg-type]
            as_json,
        )

    return command


def register(app: typer.Typer) -> None:
    app.add_typer(network_app, name="network")
    node_app.command("enable", help="The node takes new orders again (a new network version).")(
        _lifecycle("active")
    )
    node_app.command(
        "drain", help="The node finishes what it has and takes nothing new (a new version)."
    )(_lifecycle("draining"))
    node_app.command(
        "disable",
        help="The node takes nothing new; its open requests are left as they are (a new version).",
    )(_lifecycle("disabled"))
