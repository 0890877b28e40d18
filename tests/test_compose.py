"""The container files: compose.yaml, the Dockerfile and .dockerignore.

No image is built and no container runs here (that needs a Docker daemon): these tests check
that the files agree with Nashra itself. Every command they run is a real `nashra` command,
every NASHRA_* variable is one Nashra reads and, with the password filled in, the environment
of each service loads with Nashra's own settings loader; the services start in order; the
volumes exist; the image's config file loads and puts the data on the image's volume. Every
long-running process has a healthcheck asking /healthz at the metrics address the image's
config sets, and that command, run against a real loopback server, passes on 200 and fails on
503 or no answer. With `docker compose` installed, `docker compose config` validates the file
too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import click
import pytest

from bot import config as nashra_config
from bot import metrics
from bot.cli import main
from bot.config import listen_address, load_settings
from bot.store import Store

yaml = pytest.importorskip(
    "yaml", reason="PyYAML is needed to read compose.yaml (it comes with ctranslate2)")

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
README = ROOT / "README.md"
NASHRA_SERVICES = ("migrate", "bot", "worker")
# The commands that keep running and serve /healthz (migrate does its work and exits).
SERVING_COMMANDS = {"run", "bot", "worker"}
# What a .env file would hold: letters and digits, as compose.yaml and the README ask.
DOT_ENV = {"POSTGRES_PASSWORD": "s3cretPassw0rd", "NASHRA_TELEGRAM_TOKEN": "123456:ABCdef"}
# Every variable Nashra reads from the environment (bot/config.py).
NASHRA_ENV = {nashra_config.TOKEN_ENV, nashra_config.WEBHOOK_SECRET_ENV,
              nashra_config.DATABASE_URL_ENV, nashra_config.CONFIG_ENV}


# --- helpers ----------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services() -> dict[str, Any]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution (enough for this file)."""
    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if environ.get(name):
            return environ[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    assert "$$" not in value
    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the KEY=VALUE form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The `nashra` command named by the leading words, as click looks it up; the rest."""
    command: click.Command = main
    ctx = click.Context(main, info_name="nashra")
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"`nashra {' '.join(words)}`: no command {rest[0]!r}"
        command, rest = sub, rest[1:]
    assert not isinstance(command, click.Group), f"`nashra {' '.join(words)}` names a group"
    return command, rest


def assert_real_command(words: list[str]) -> None:
    command, rest = resolve(words)
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in options, f"`nashra {' '.join(words)}`: {word}?"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs; continuation lines joined, heredoc bodies kept."""
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        keyword, _, args = line.strip().partition(" ")
        heredoc = re.search(r"<<-?['\"]?(\w+)['\"]?", args)
        if heredoc:
            body = []
            while lines[i] != heredoc.group(1):
                body.append(lines[i])
                i += 1
            i += 1
            args += "\n" + "\n".join(body) + "\n"
        out.append((keyword.upper(), args))
    return out


def dockerfile_last(keyword: str) -> str:
    values = [args for key, args in dockerfile_instructions() if key == keyword]
    assert values, f"Dockerfile has no {keyword}"
    return values[-1]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for key, args in dockerfile_instructions():
        if key == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(args))
    return env


def baked_config() -> tuple[str, str]:
    """The config file the image carries: (its path in the image, its text)."""
    for key, args in dockerfile_instructions():
        head, _, body = args.partition("\n")
        if key == "COPY" and head.startswith("<<") and body:
            return head.split()[-1], body
    raise AssertionError("the Dockerfile writes no config file")


def volume_dir() -> str:
    return str(json.loads(dockerfile_last("VOLUME"))[0])


# --- compose.yaml -----------------------------------------------------------------------------


def test_compose_has_the_services_and_volumes() -> None:
    data = compose()
    assert set(data["services"]) == {"db", *NASHRA_SERVICES}
    declared = set(data.get("volumes") or {})
    for name, service in data["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source")
            if not source.startswith((".", "/", "$")):   # a named volume, not a bind mount
                assert source in declared, f"{name}: volume {source!r} is not declared"
    assert data["services"]["db"]["image"].startswith("postgres:15")
    assert any(m.endswith(":/var/lib/postgresql/data") for m in data["services"]["db"]["volumes"])


def test_every_nashra_service_runs_a_real_command_of_the_image() -> None:
    for name in NASHRA_SERVICES:
        service = services()[name]
        assert service["build"] == "." and "entrypoint" not in service, name
        command = service["command"]
        assert isinstance(command, list), f"{name}: command as a list, no shell parsing"
        assert_real_command(command)
    assert [services()[n]["command"][0] for n in NASHRA_SERVICES] == ["migrate", "bot", "worker"]


def test_documented_run_commands_are_real_commands() -> None:
    """`docker compose run --rm SERVICE ARGS…` in compose.yaml's comments and the README."""
    section = README.read_text(encoding="utf-8").split("### With Docker Compose", 1)
    assert len(section) == 2, "README has no 'With Docker Compose' section"
    text = COMPOSE.read_text(encoding="utf-8") + section[1].split("\n## ", 1)[0]
    text = text.replace("\\\n", " ")
    found = re.findall(r"docker compose run --rm ((?:-v \S+ +)*)(\w+) +([^#\n]*)", text)
    assert len(found) >= 3
    seen = set()
    for _volumes, service, args in found:
        assert service in NASHRA_SERVICES, service
        words = shlex.split(args)
        assert_real_command(words)
        seen.add(" ".join(words[:2]))
    assert "models install" in seen


def test_environment_names_only_variables_nashra_reads() -> None:
    for name in NASHRA_SERVICES:
        names = {k for k in environment(services()[name]) if k.startswith("NASHRA_")}
        assert names <= NASHRA_ENV, f"{name}: {names - NASHRA_ENV} are not read by Nashra"
    assert nashra_config.DATABASE_URL_ENV in environment(services()["worker"])
    assert nashra_config.TOKEN_ENV in environment(services()["bot"])
    # A worker never talks to Telegram: it does not get the token.
    assert nashra_config.TOKEN_ENV not in environment(services()["worker"])


def test_secrets_come_from_the_env_file_and_are_required() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if key in ("POSTGRES_PASSWORD", nashra_config.TOKEN_ENV,
                       nashra_config.DATABASE_URL_ENV):
                assert re.search(r"\$\{\w+:\?", value), f"{name}: {key} must come from .env"
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(environment(services()["worker"])[nashra_config.DATABASE_URL_ENV], {})
    with pytest.raises(KeyError, match="NASHRA_TELEGRAM_TOKEN"):
        interpolate(environment(services()["bot"])[nashra_config.TOKEN_ENV], {})


def test_each_service_environment_loads_with_the_image_config(tmp_path: Path) -> None:
    """The image's config file plus a service's environment: settings Nashra accepts, on the
    db service's PostgreSQL database."""
    config = tmp_path / "config.toml"
    config.write_text(baked_config()[1], encoding="utf-8")
    db = environment(services()["db"])
    for name in NASHRA_SERVICES:
        env = {k: interpolate(v, DOT_ENV) for k, v in environment(services()[name]).items()}
        settings = load_settings(str(config), environ=env)
        assert settings.storage.url == (f"postgresql://{db['POSTGRES_USER']}:"
                                        f"{DOT_ENV['POSTGRES_PASSWORD']}@db:5432/"
                                        f"{db['POSTGRES_DB']}"), name
        if name == "bot":
            assert settings.telegram.token == DOT_ENV["NASHRA_TELEGRAM_TOKEN"]
            assert settings.telegram.webhook_secret == ""   # empty: derived from the token
    assert interpolate(db["POSTGRES_PASSWORD"], DOT_ENV) == DOT_ENV["POSTGRES_PASSWORD"]


def test_start_order_db_then_migrate_then_bot_and_workers() -> None:
    svc = services()
    assert "pg_isready" in " ".join(svc["db"]["healthcheck"]["test"])
    assert svc["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert svc["migrate"].get("restart", "no") == "no"
    for name in ("bot", "worker"):
        assert svc[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}}, name
        assert svc[name]["restart"] == "unless-stopped", name


def test_workers_scale_and_share_the_models_with_the_bot(tmp_path: Path) -> None:
    svc = services()
    assert svc["worker"]["deploy"]["replicas"] >= 2
    assert "container_name" not in svc["worker"]   # a fixed name would forbid --scale
    config = tmp_path / "config.toml"
    config.write_text(baked_config()[1], encoding="utf-8")
    models_dir = PurePosixPath(load_settings(str(config), environ={}).models_path)
    for name in ("bot", "worker"):
        mounts = dict(m.split(":")[:2][::-1] for m in svc[name]["volumes"])
        target = next(t for t in mounts if models_dir.is_relative_to(t))
        assert mounts[target] == "models", name


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker command")
def test_docker_compose_validates_the_file() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        pytest.skip("docker has no compose plugin")
    env = {**os.environ, **DOT_ENV}
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"],
                            capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr


# --- Dockerfile -------------------------------------------------------------------------------


def test_entrypoint_is_the_console_script_and_cmd_a_real_command() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["scripts"]
    entrypoint = json.loads(dockerfile_last("ENTRYPOINT"))
    assert len(entrypoint) == 1
    script = PurePosixPath(entrypoint[0])
    assert scripts[script.name] == "bot.cli:main"
    assert str(script.parent) + ":" in dockerfile_env()["PATH"]
    cmd = json.loads(dockerfile_last("CMD"))
    assert cmd == ["run"]
    assert_real_command(cmd)


def test_image_installs_the_lock_with_postgres_and_runs_as_a_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("ARG", "PYTHON_IMAGE=python:3.12-slim")
    syncs = [args for key, args in instructions if key == "RUN" and "uv sync" in args]
    assert syncs
    for args in syncs:
        assert {"--locked", "--no-dev", "--extra"} <= set(args.split()), args
        assert "--extra postgres" in args
    user = dockerfile_last("USER")
    assert user not in ("root", "0")
    assert any(key == "RUN" and "useradd" in args and user in args for key, args in instructions)


def test_image_config_loads_and_keeps_the_data_on_the_volume(tmp_path: Path) -> None:
    path, text = baked_config()
    assert dockerfile_env()[nashra_config.CONFIG_ENV] == path
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    settings = load_settings(str(config), environ={})
    volume = PurePosixPath(volume_dir())
    assert PurePosixPath(settings.storage.path).is_relative_to(volume)
    assert PurePosixPath(settings.models_path).is_relative_to(volume)
    assert settings.telegram.token == "" and settings.storage.url == ""   # no secrets baked
    # Only the data paths: every other setting is the built-in default.
    assert set(tomllib.loads(text)) == {"storage", "translation", "metrics"}


def test_dockerignore_sends_only_what_the_image_copies() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: .env, config.toml and data/ never reach a build"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for key, args in dockerfile_instructions():
        if key == "COPY" and not args.startswith(("--from", "<<")):
            for source in args.split()[:-1]:
                assert source.rstrip("/") in allowed, f"COPY {source}: excluded by .dockerignore"


# --- healthchecks -----------------------------------------------------------------------------


def image_healthcheck() -> list[str]:
    """The command of the Dockerfile's HEALTHCHECK (exec form), after its options."""
    args = dockerfile_last("HEALTHCHECK")
    options, _, command = args.partition("CMD ")
    assert options.strip() and command.startswith("["), "HEALTHCHECK [options] CMD [...]"
    words = json.loads(command)
    assert isinstance(words, list)
    return [str(w) for w in words]


def health_url(command: list[str]) -> str:
    urls = re.findall(r"http://[^\s'\"]+", " ".join(command))
    assert len(urls) == 1, command
    return str(urls[0])


def test_image_healthcheck_asks_the_configured_metrics_endpoint(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(baked_config()[1], encoding="utf-8")
    listen = load_settings(str(config), environ={}).metrics.listen
    assert listen, "the image's config must set metrics.listen for the healthcheck"
    host, port = listen_address(listen)
    assert host == "127.0.0.1", "the endpoint stays inside the container unless asked"
    command = image_healthcheck()
    assert health_url(command) == f"http://{host}:{port}/healthz"
    # No curl in a slim image: the venv's Python asks, a real file of the image.
    python = PurePosixPath(command[0])
    assert python.parent == PurePosixPath(json.loads(dockerfile_last("ENTRYPOINT"))[0]).parent
    assert command[1] == "-c" and "curl" not in " ".join(command)


def test_every_long_running_process_has_the_healthcheck() -> None:
    for name in NASHRA_SERVICES:
        service = services()[name]
        check = service.get("healthcheck", {})
        if service["command"][0] in SERVING_COMMANDS:
            assert check.get("test") == ["CMD", *image_healthcheck()], name
            assert not check.get("disable"), name
            assert check["retries"] >= 1 and check["start_period"], name
        else:   # a one-off command: the image's check would only mark it unhealthy
            assert check == {"disable": True}, name
    assert {services()[n]["command"][0] for n in NASHRA_SERVICES} & SERVING_COMMANDS == {
        "bot", "worker"}


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"no")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def health_server(handler: type[_Health]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_healthcheck(port: int) -> int:
    """The image's healthcheck command, with this Python and the given loopback port."""
    command = image_healthcheck()
    url = health_url(command)
    parts = urlsplit(url)
    moved = url.replace(parts.netloc, f"127.0.0.1:{port}")
    words = [sys.executable, *[w.replace(url, moved) for w in command[1:]]]
    return subprocess.run(words, capture_output=True, timeout=60, check=False).returncode


def test_healthcheck_passes_on_200_and_fails_on_503_or_no_answer() -> None:
    handler = type("Health", (_Health,), {"status": 200})
    with health_server(handler) as server:
        port = server.server_address[1]
        assert run_healthcheck(port) == 0
        handler.status = 503
        assert run_healthcheck(port) != 0
    assert run_healthcheck(port) != 0   # nothing listens there any more


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_healthcheck_against_nashra_s_own_endpoint(tmp_path: Path) -> None:
    """The image's command against the /healthz a Nashra process serves (bot.metrics), on a
    real SQLite database: passes while the process is well, fails once it says why not."""
    database = tmp_path / "nashra.db"
    Store(database).close()
    problem: list[str] = []
    port = free_port()
    listen = f"127.0.0.1:{port}"
    with metrics.serving(listen, database, lambda: problem[0] if problem else None):
        assert run_healthcheck(port) == 0
        problem.append("outbox: stuck")
        assert run_healthcheck(port) != 0
