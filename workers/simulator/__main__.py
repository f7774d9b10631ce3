"""`python -m workers.simulator partners ...`: the simulator without the rest of the CLI (this is
what `dom dev --demo` launches as its child process)."""

from workers.cli.simulate import simulate_app

simulate_app(prog_name="dom simulate")
