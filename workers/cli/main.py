"""The `dom` command line: one typer app; each domain module adds its own commands.

Command modules import only typer, rich and light modules at module level; Temporal,
SQLAlchemy, FastAPI, the activities and the workflows are imported inside the command functions,
so `dom --help` and `dom order show` start quickly (tests/cli/test_startup.py keeps it so)."""

import os
import sys
from typing import Any, NoReturn

import typer

from workers.cli import alerts as alerts_cli
from workers.cli import api, apikey, dev, nodes, returns, routing, simulate
from workers.cli import kpis as kpis_cli
from workers.cli import network as network_cli
from workers.cli import reconcile as reconcile_cli
from workers.cli import replenish as replenish_cli
from workers.cli import report as report_cli
from workers.cli import shadow as shadow_cli
from workers.cli import whatif as whatif_cli
from workers.cli.cart import cart_app
from workers.cli.errors import DomGroup
from workers.cli.inventory import inventory_app
from workers.cli.order import order_app, shipment_app


class DomApp(typer.Typer):
    """The console script's entry point ends the process with `os._exit` once the command is done
    and its output flushed: the Temporal client's native threads can abort the interpreter
    during its shutdown ("Fatal Python error: PyGILState_Release", exit code 134), turning a
    command that worked into a crash. https://github.com/temporalio/sdk-python/issues/300"""

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            super().__call__(*args, **kwargs)
            code = 0
        except SystemExit as e:
            if isinstance(e.code, str):
                sys.stderr.write(e.code + "\n")
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


app = DomApp(
    cls=DomGroup,
    help="dom-workflows: distributed order management on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(order_app, name="order")
app.add_typer(shipment_app, name="shipment")
app.add_typer(inventory_app, name="inventory")
app.add_typer(cart_app, name="cart")
dev.register(app)
routing.register(app)
api.register(app)
simulate.register(app)
returns.register(app)
apikey.register(app)
nodes.register(app)
kpis_cli.register(app)
report_cli.register(app)
alerts_cli.register(app)
replenish_cli.register(inventory_app)
reconcile_cli.register(app)
network_cli.register(app)
shadow_cli.register(app)
whatif_cli.register(app)
