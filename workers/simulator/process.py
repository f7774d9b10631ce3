"""Running the simulator as a child process (what `dom dev --demo` does), and stopping it so
that nothing is left running."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class SimProcessOptions:
    port: int
    api_url: str
    secrets: Path
    log_path: Path
    accept_delay: float = 2.0
    ship_delay: float = 4.0
    deliver_delay: float = 6.0
    reject_rate: float = 0.0
    stall_rate: float = 0.0
    fail_rate: float = 0.0
    timeout_rate: float = 0.0

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "workers.simulator", "partners",
            "--port", str(self.port),
            "--api-url", self.api_url,
            "--secrets", str(self.secrets),
            "--accept-delay", str(self.accept_delay),
            "--ship-delay", str(self.ship_delay),
            "--deliver-delay", str(self.deliver_delay),
            "--reject-rate", str(self.reject_rate),
            "--stall-rate", str(self.stall_rate),
            "--fail-rate", str(self.fail_rate),
            "--timeout-rate", str(self.timeout_rate),
        ]  # fmt: skip


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-1500:] if log.exists() else ""


async def wait_until_healthy(url: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient(timeout=1.0) as http:
        for _ in range(150):
            if proc.returncode is not None:
                raise RuntimeError(
                    f"the partner simulator exited with {proc.returncode}:\n{_tail(log)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/_health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the partner simulator did not come up at {url}; see {log}")


async def stop_child(proc: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def run_simulator(
    opts: SimProcessOptions, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run the simulator until `stop` is set or this task is cancelled; either way the child is
    terminated and waited for before returning."""
    opts.log_path.parent.mkdir(parents=True, exist_ok=True)
    with opts.log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            *opts.argv(), stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    try:
        await wait_until_healthy(f"http://127.0.0.1:{opts.port}", proc, opts.log_path)
        if ready is not None:
            ready.set()
        waiters = [asyncio.ensure_future(proc.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if proc.returncode is not None and not (stop and stop.is_set()):
            raise RuntimeError(
                f"the partner simulator exited with {proc.returncode}; see {opts.log_path}"
            )
    finally:
        # Shielded: when run_stack cancels us, the child must still be reaped before we return.
        await asyncio.shield(stop_child(proc))
