"""docker-compose.yml cannot be run here (no Docker), so check everything it refers to exists:
services, images and builds, ports, dependencies, variables, commands and the database URL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}")
ONE_SHOT = {"setup"}
DOM_SERVICES = {"api", "worker", "simulator", "setup"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    s: dict[str, dict[str, Any]] = compose["services"]
    return s


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _strip_defaults(value: str) -> str:
    """What a `${VAR:-default}` expression becomes with nothing set in the environment."""
    return VAR.sub(
        lambda m: (m.group(2) or "")[2:] if (m.group(2) or "").startswith(":-") else "", value
    )


def test_every_required_service_is_there(services: dict[str, dict[str, Any]]) -> None:
    assert {
        "temporal",
        "temporal-db",
        "temporal-ui",
        "dom-db",
        "api",
        "worker",
        "simulator",
    } <= set(services)


def test_images_and_builds_exist(services: dict[str, dict[str, Any]]) -> None:
    images = {name: _strip_defaults(s.get("image", "")) for name, s in services.items()}
    assert images["temporal"].startswith("temporalio/auto-setup:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    assert images["temporal-db"] == images["dom-db"] == "postgres:16"
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        if name in DOM_SERVICES:
            build = svc["build"]
            context = ROOT / build["context"]
            assert context.is_dir(), name
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile} missing"


def test_dockerfile_copies_what_the_package_and_config_need() -> None:
    text = (ROOT / "Dockerfile").read_text()
    copied = re.findall(r"^COPY\s+(.+?)\s+\S+$", text, re.M)
    sources = {src for line in copied for src in line.split()}
    for needed in ("pyproject.toml", "README.md", "src", "activities", "workers", "examples"):
        assert needed in sources, needed
        assert (ROOT / needed).exists(), needed
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".dom"} <= set(ignored)
    assert not set(ignored) & {"src", "activities", "workers", "examples"}


def test_dependencies_exist_and_health_conditions_have_healthchecks(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for target, spec in deps.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition", "service_started")
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", "a one-shot service must not be restarted"
            continue
        check = svc.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"


def test_host_ports_do_not_collide_and_workers_scale(services: dict[str, dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for name, svc in services.items():
        for mapping in svc.get("ports", []):
            host = _strip_defaults(str(mapping)).rsplit(":", 1)[0]
            assert host not in seen, f"{name} and {seen.get(host)} both publish host port {host}"
            seen[host] = name
    worker = services["worker"]
    assert int(_strip_defaults(str(worker["deploy"]["replicas"]))) >= 1
    assert "ports" not in worker, "published ports would stop worker replicas from starting"
    assert "container_name" not in worker


def test_every_variable_has_a_default_or_is_documented(compose: dict[str, Any]) -> None:
    documented = DEPLOY_DOC.read_text()
    for m in VAR.finditer(COMPOSE.read_text()):
        name, tail = m.group(1), m.group(2) or ""
        assert tail.startswith(":-") or f"`{name}`" in documented, f"${{{name}}} has no default"
        assert f"`{name}`" in documented, f"{name} is not described in docs/deploy.md"


def test_dom_services_point_at_the_compose_databases_and_temporal(
    services: dict[str, dict[str, Any]],
) -> None:
    db = _env(services["dom-db"])
    for name in DOM_SERVICES:
        env = {k: _strip_defaults(v) for k, v in _env(services[name]).items()}
        url = urlparse(env["DOM_DATABASE_URL"])
        assert url.scheme == "postgresql+asyncpg", name
        assert url.hostname == "dom-db" and (url.port or 5432) == 5432, name
        assert url.username == db["POSTGRES_USER"] and url.path == "/" + db["POSTGRES_DB"], name
        assert url.password == _strip_defaults(db["POSTGRES_PASSWORD"]), name
        host, port = env["TEMPORAL_ADDRESS"].split(":")
        assert host in services and port == "7233", name
        for key in ("DOM_NETWORK", "DOM_POLICY", "DOM_PARTNER_SECRETS"):
            # Paths inside the image: /app is the repository root (see the Dockerfile).
            assert env[key].startswith("/app/") and (ROOT / env[key][5:]).is_file(), (name, key)
        for key in ("DOM_API_URL", "DOM_PARTNER_SIM_URL"):
            target = urlparse(env[key])
            assert target.hostname in services, (name, key)
            published = [str(p) for p in services[target.hostname].get("ports", [])]
            assert any(p.endswith(f":{target.port}") for p in published), (name, key)
    temporal = _env(services["temporal"])
    assert temporal["POSTGRES_SEEDS"] in services and temporal["DB"].startswith("postgres")
    assert _env(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def _commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found = set()
    for cmd in app.registered_commands:
        name = cmd.name or (cmd.callback.__name__.replace("_", "-") if cmd.callback else "")
        found.add((*prefix, name))
    for group in app.registered_groups:
        if group.typer_instance is not None and group.name:
            found |= _commands(group.typer_instance, (*prefix, group.name))
    return found


def _pending_commands() -> set[tuple[str, ...]]:
    """Commands whose modules exist but which workers/cli/main.py may not wire in yet."""
    from workers.cli import api as api_cli
    from workers.cli.simulate import simulate_app

    extra = typer.Typer()
    api_cli.register(extra)
    extra.add_typer(simulate_app, name="simulate")
    return _commands(extra)


def test_container_commands_exist_in_the_cli(services: dict[str, dict[str, Any]]) -> None:
    from workers.cli.main import app

    known = _commands(app) | _pending_commands()
    for name in DOM_SERVICES:
        command = services[name]["command"]
        assert command[0] == "dom", name
        words = tuple(command[1:])
        assert any(words[: len(c)] == c for c in known), (
            f"{name}: `dom {' '.join(words)}` is not a command"
        )


def test_compose_commands_are_wired_into_the_dom_cli() -> None:
    from workers.cli.main import app

    missing = sorted(" ".join(c) for c in _pending_commands() - _commands(app))
    if missing:
        pytest.skip(f"workers/cli/main.py does not register yet: {missing}")
