"""docker-compose.yml cannot be run here (no Docker), so check everything it refers to exists:
services, images and builds, ports, dependencies, variables, commands and the database URL."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from typer.testing import CliRunner, Result

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


def _dom(args: list[str]) -> Result:
    """Run the real `dom` app (workers.cli.main:app, the console script) as a user would."""
    from workers.cli.main import app

    return CliRunner().invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"}, prog_name="dom")


def test_the_console_script_is_the_app_under_test() -> None:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert doc["project"]["scripts"]["dom"] == "workers.cli.main:app"


@pytest.mark.parametrize("service", sorted(DOM_SERVICES))
def test_container_command_parses_in_the_dom_cli(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    """The container's exact argv, plus --help so nothing runs: the parser reads every word
    first, so a missing command or sub-command, or an unknown option, exits 2 here."""
    command = [str(w) for w in services[service]["command"]]
    assert command[0] == "dom", service
    result = _dom([*command[1:], "--help"])
    assert result.exit_code == 0, f"{service}: `{' '.join(command)}`:\n{result.output}"
    words = [w for w in command[1:] if not w.startswith("-")]
    assert "Usage: dom " in result.output, result.output
    assert words[0] in result.output.split("Usage: dom ", 1)[1].splitlines()[0], result.output


@pytest.mark.parametrize(
    ("words", "options"),
    [
        (["api"], ["--host", "--port"]),
        (["worker"], []),
        (["setup"], []),
        (
            ["simulate", "partners"],
            [
                "--host",
                "--port",
                "--api-url",
                "--accept-delay",
                "--reject-rate",
                "--fail-rate",
                "--timeout-rate",
                "--seed",
            ],
        ),
    ],
)
def test_dom_help_lists_the_command_and_its_options(words: list[str], options: list[str]) -> None:
    """`dom <words> --help` on the real app, as a user types it."""
    result = _dom([*words, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: dom {' '.join(words)}" in result.output, result.output
    for option in options:
        assert option in result.output, (words, option)
