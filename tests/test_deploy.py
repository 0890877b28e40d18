"""The systemd units in deploy/ and the Procfile.

`systemd-analyze verify` checks each unit as systemd would load it (a misspelt directive or a
bad value is an error here, not a warning to ignore); it is skipped cleanly where the command
is missing or cannot run. The rest needs no systemd: every ExecStart runs a real `nashra`
command, the environment names only variables Nashra reads, and the folder the units let
Nashra write is the one the shipped config file puts the database and the models in. The
operator's `nashra` wrapper runs the command as the units do, and it is run here too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path, PurePosixPath

import click
import pytest

from bot import config as nashra_config
from bot.cli import EXIT_CONFIG, main
from bot.config import load_settings
from bot.telegram.delivery import STOP_GRACE_SECONDS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
CONFIG = DEPLOY / "config.toml"
ENV_EXAMPLE = DEPLOY / "env.example"
WRAPPER = DEPLOY / "nashra"
PROCFILE = ROOT / "Procfile"
README = ROOT / "README.md"
# Where the README's install puts the files the units name.
INSTALLED_CONFIG = "/etc/nashra/config.toml"
INSTALLED_ENV = "/etc/nashra/env"
NASHRA_ENV = {nashra_config.TOKEN_ENV, nashra_config.WEBHOOK_SECRET_ENV,
              nashra_config.DATABASE_URL_ENV, nashra_config.CONFIG_ENV,
              nashra_config.METRICS_LISTEN_ENV}
# The process each unit runs.
COMMANDS = {"nashra.service": ["run"], "nashra-bot.service": ["bot"],
            "nashra-worker@.service": ["worker"]}

Unit = dict[str, dict[str, list[str]]]


# --- helpers ----------------------------------------------------------------------------------


def parse_unit(text: str) -> Unit:
    """Sections -> directive -> every value given (systemd allows repeats)."""
    unit: Unit = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"not a directive: {raw!r}"
        unit[section][key.strip()].append(value.strip())
    return unit


def unit(name: str) -> Unit:
    return parse_unit((DEPLOY / name).read_text(encoding="utf-8"))


def one(u: Unit, key: str, section: str = "Service") -> str:
    values = u[section][key]
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def environment(u: Unit) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in u["Service"]["Environment"]:
        for pair in shlex.split(value):
            key, _, val = pair.partition("=")
            env[key] = val
    return env


def env_file_names(text: str) -> dict[str, str]:
    """VARIABLE=value lines of an environment file, commented-out examples included."""
    names = {}
    for raw in text.splitlines():
        line = raw.lstrip("# ").strip()
        key, sep, value = line.partition("=")
        if sep and key.isupper() and key.replace("_", "").isalnum():
            names[key] = value
    return names


def assert_real_command(words: list[str]) -> None:
    """``words`` name a `nashra` command (not a group) and only options it has."""
    command: click.Command = main
    ctx = click.Context(main, info_name="nashra")
    rest = list(words)
    while isinstance(command, click.Group) and rest:
        if rest[0].startswith("-"):   # a group's own option (--config X, --log-format json)
            rest = _group_option(command, rest, words)
            continue
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"`nashra {' '.join(words)}`: no command {rest[0]!r}"
        command, rest = sub, rest[1:]
    assert not isinstance(command, click.Group), f"`nashra {' '.join(words)}` names a group"
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in rest:
        if word.startswith("-"):
            assert word.split("=", 1)[0] in options, f"`nashra {' '.join(words)}`: {word}?"


def _group_option(group: click.Group, rest: list[str], words: list[str]) -> list[str]:
    """``rest`` after the group option it starts with (and the option's value)."""
    name = rest[0].split("=", 1)[0]
    option = next((p for p in group.params if name in getattr(p, "opts", [])), None)
    assert option is not None, f"`nashra {' '.join(words)}`: {name}?"
    takes_value = isinstance(option, click.Option) and not option.is_flag and "=" not in rest[0]
    return rest[2:] if takes_value else rest[1:]


def exec_start(name: str) -> list[str]:
    return shlex.split(one(unit(name), "ExecStart"))


# --- systemd-analyze verify -------------------------------------------------------------------


def verify(path: Path) -> tuple[int, list[str]]:
    """`systemd-analyze verify` of one unit file: its exit status and every complaint about
    this unit (systemd reports a misspelt directive or a bad value as a line naming the file
    and still exits 0, so the lines count as much as the status)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None
    result = subprocess.run([analyze, "verify", "--man=no", "--generators=no", str(path)],
                            capture_output=True, text=True, timeout=120, check=False)
    stem = path.name.partition("@")[0].removesuffix(".service")
    lines = (result.stdout + result.stderr).splitlines()
    return result.returncode, [line for line in lines
                               if str(path.parent) in line or line.startswith(stem)]


@pytest.fixture(scope="module")
def analyze(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where units verify with an executable standing in for the installed nashra;
    skips where systemd-analyze is missing or cannot verify even a trivial unit here."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze")
    folder = tmp_path_factory.mktemp("units")
    stand_in = folder / "nashra"
    stand_in.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    stand_in.chmod(0o755)
    probe = folder / "nashra-probe.service"
    probe.write_text(f"[Unit]\nDescription=probe\n\n[Service]\nExecStart={stand_in} run\n",
                     encoding="utf-8")
    status, complaints = verify(probe)
    if status != 0 or complaints:
        pytest.skip(f"systemd-analyze verify cannot run here: {complaints or status}")
    probe.unlink()
    return folder


def staged(folder: Path, source: Path, text: str | None = None) -> Path:
    """A copy of a unit whose ExecStart binary is the stand-in (the real one is not installed
    here); the rest byte for byte."""
    text = source.read_text(encoding="utf-8") if text is None else text
    installed = exec_start(source.name)[0]
    path = folder / source.name
    path.write_text(text.replace(installed, str(folder / "nashra")), encoding="utf-8")
    return path


@pytest.mark.parametrize("source", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verifies_the_unit(analyze: Path, source: Path) -> None:
    status, complaints = verify(staged(analyze, source))
    assert status == 0 and not complaints, "\n".join(complaints) or status


@pytest.mark.parametrize(("good", "bad"), [
    ("NoNewPrivileges=yes", "NoNewPrivilege=yes"),          # a misspelt directive
    ("ProtectSystem=strict", "ProtectSystem=stricct"),      # a bad value
    ("Restart=on-failure", "Restart=on-failures"),
    ("[Service]", "[Servise]"),                             # a misspelt section
])
def test_verify_fails_on_a_real_unit_error(analyze: Path, good: str, bad: str) -> None:
    """The check above is not a formality: the shipped unit with one typo fails it."""
    source = DEPLOY / "nashra.service"
    text = source.read_text(encoding="utf-8")
    assert good in text
    status, complaints = verify(staged(analyze, source, text.replace(good, bad, 1)))
    assert status != 0 or complaints


# --- what the units run -----------------------------------------------------------------------


def test_the_units_are_the_expected_ones() -> None:
    assert {p.name for p in UNITS} == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_exec_start_runs_a_real_command_of_the_installed_venv(name: str) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["scripts"]
    binary, *words = exec_start(name)
    path = PurePosixPath(binary)
    # The README installs the checkout in /opt/nashra and `uv sync` makes .venv there.
    assert path == PurePosixPath("/opt/nashra/.venv/bin") / path.name, binary
    assert scripts[path.name] == "bot.cli:main"
    assert words == COMMANDS[name]
    assert_real_command(words)


def test_a_worker_keeps_its_default_name() -> None:
    """`--name %i` would lose the at-once takeover of a dead worker's feeds on this machine,
    and two machines' nashra-worker@1 would share their leases."""
    assert "--name" not in exec_start("nashra-worker@.service")
    assert_real_command(["worker", "--name", "x"])   # the option the unit chooses not to use


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_restart_and_stop_suit_nashra(name: str) -> None:
    u = unit(name)
    assert one(u, "Restart") == "on-failure"
    # A configuration error (or a rejected token) exits with EXIT_CONFIG: no restart loop.
    assert one(u, "RestartPreventExitStatus") == str(EXIT_CONFIG)
    stop = one(u, "TimeoutStopSec")
    assert stop.endswith("s") and float(stop[:-1]) > 2 * STOP_GRACE_SECONDS
    assert one(u, "Type") in ("exec", "simple")
    assert one(u, "User") == one(u, "Group") == "nashra"
    assert one(u, "WantedBy", "Install") == "multi-user.target"
    assert "network-online.target" in one(u, "Wants", "Unit")


# --- environment ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_environment_names_only_variables_nashra_reads(name: str) -> None:
    u = unit(name)
    env = environment(u)
    assert {k for k in env if k.startswith("NASHRA_")} <= NASHRA_ENV
    assert env[nashra_config.CONFIG_ENV] == INSTALLED_CONFIG
    assert one(u, "EnvironmentFile") == INSTALLED_ENV   # no "-": a missing file is an error
    assert set(u["Service"]["UnsetEnvironment"]) <= NASHRA_ENV


def test_the_env_file_example_names_only_variables_nashra_reads(tmp_path: Path) -> None:
    names = env_file_names(ENV_EXAMPLE.read_text(encoding="utf-8"))
    assert set(names) <= NASHRA_ENV - {nashra_config.CONFIG_ENV}, set(names) - NASHRA_ENV
    assert nashra_config.TOKEN_ENV in names and nashra_config.DATABASE_URL_ENV in names
    # Filled in, the file and the shipped config load with Nashra's own loader.
    environ = {nashra_config.TOKEN_ENV: "123456:ABCdef",
               nashra_config.DATABASE_URL_ENV: "postgresql://nashra:pw@localhost/nashra"}
    settings = load_settings(str(CONFIG), environ=environ)
    assert settings.telegram.token == "123456:ABCdef"
    assert settings.storage.url == environ[nashra_config.DATABASE_URL_ENV]


def test_a_worker_does_not_keep_the_token() -> None:
    assert unit("nashra-worker@.service")["Service"]["UnsetEnvironment"] == [
        nashra_config.TOKEN_ENV]


# --- the data folder --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_writable_folder_is_where_the_config_keeps_the_data(name: str) -> None:
    u = unit(name)
    settings = load_settings(str(CONFIG), environ={})
    data = PurePosixPath(settings.storage.path).parent
    assert one(u, "ProtectSystem") == "strict"
    assert [PurePosixPath(p) for p in u["Service"]["ReadWritePaths"]] == [data]
    assert PurePosixPath(settings.models_path).is_relative_to(data)
    assert PurePosixPath(one(u, "WorkingDirectory")) == data
    # argostranslate writes under $HOME on import: it must be the writable folder too.
    assert PurePosixPath(environment(u)["HOME"]) == data
    assert PurePosixPath("/var/lib") / one(u, "StateDirectory") == data
    for directive in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert one(u, directive) == "yes", directive


def test_the_shipped_config_sets_only_the_paths_and_admins() -> None:
    raw = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert raw == {"telegram": {"admins": []},
                   "storage": {"path": raw["storage"]["path"]},
                   "translation": {"models_dir": raw["translation"]["models_dir"]}}
    settings = load_settings(str(CONFIG), environ={})
    assert settings.telegram.token == "" and settings.storage.url == ""   # no secrets


# --- the operator's wrapper -------------------------------------------------------------------


def test_the_wrapper_runs_nashra_as_the_main_unit_does() -> None:
    text = WRAPPER.read_text(encoding="utf-8")
    assert subprocess.run(["sh", "-n", str(WRAPPER)], check=False).returncode == 0
    assert os.access(WRAPPER, os.X_OK)
    u = unit("nashra.service")
    env = environment(u)
    assert f"runuser -u {one(u, 'User')} -- " in text
    assert f"HOME={env['HOME']} NASHRA_CONFIG={env['NASHRA_CONFIG']}" in text
    assert f". {one(u, 'EnvironmentFile')}\n" in text
    assert one(u, "ExecStart").split()[0] + ' "$@"' in text


def test_the_wrapper_passes_config_home_and_secrets(tmp_path: Path) -> None:
    """The wrapper itself (sh), with its root-only step (runuser) and the installed paths
    swapped for this checkout's: the config and the env file reach `nashra`, and a secret
    of the env file is used but never shown."""
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path}/data/nashra.db"\n', encoding="utf-8")
    env_file = tmp_path / "env"
    u = unit("nashra.service")
    text = WRAPPER.read_text(encoding="utf-8")
    swaps = {'[ "$(id -u)" -eq 0 ] || exec sudo -- "$0" "$@"\n': "",
             f"runuser -u {one(u, 'User')} -- ": "",
             one(u, "EnvironmentFile"): str(env_file),
             environment(u)["NASHRA_CONFIG"]: str(config),
             environment(u)["HOME"]: str(tmp_path),
             one(u, "ExecStart").split()[0]: str(Path(sys.executable).parent / "nashra")}
    for old, new in swaps.items():
        assert old in text, old
        text = text.replace(old, new)
    wrapper = tmp_path / "nashra-wrapper"
    wrapper.write_text(text, encoding="utf-8")

    def run(env_text: str) -> subprocess.CompletedProcess[str]:
        env_file.write_text(env_text, encoding="utf-8")
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NASHRA_")}
        return subprocess.run(["sh", str(wrapper), "migrate"], capture_output=True, text=True,
                              env=clean, timeout=120, check=False)

    done = run(ENV_EXAMPLE.read_text(encoding="utf-8"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{tmp_path}/data/nashra.db: schema ")
    url = "postgresql://nashra:Wr4pperSecret@127.0.0.1:9/nashra"
    failed = run(f"NASHRA_TELEGRAM_TOKEN=123456:ABCdef\nNASHRA_DATABASE_URL={url}\n")
    assert failed.returncode == 1
    assert "127.0.0.1:9/nashra" in failed.stderr and "Wr4pperSecret" not in failed.stderr


# --- Procfile ---------------------------------------------------------------------------------


def test_procfile_names_real_commands() -> None:
    lines = [line for line in PROCFILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines
    for line in lines:
        process, sep, command = line.partition(":")
        assert sep and process.strip().isidentifier(), line
        binary, *words = shlex.split(command)
        assert binary == "nashra", line
        assert_real_command(words)


# --- README -----------------------------------------------------------------------------------


def readme_shell_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]


def test_readme_shell_commands_are_real_nashra_commands() -> None:
    """Every `nashra ...` the README tells to type (directly, after `uv run`, through the
    wrapper or `docker exec`) is a command with options it has."""
    found = 0
    for line in readme_shell_lines():
        code = line.split(" #", 1)[0]
        for match in re.finditer(r"(?:^|uv run |&& |; |/bin/|exec \S+ )nashra ([^#&|;>]*)", code):
            words = shlex.split(re.sub(r"\$\([^)]*\)", "X", match.group(1)))
            assert_real_command(words)
            found += 1
    assert found >= 5


def test_readme_names_only_deploy_files_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    for name in set(re.findall(r"deploy/([\w@.-]+)", text)):
        assert (DEPLOY / name.rstrip(".")).exists(), f"README names deploy/{name}"
