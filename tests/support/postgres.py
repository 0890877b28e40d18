"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests and CI.

In tests, use the ``postgres_server`` / ``postgres_url`` fixtures of ``tests/conftest.py``;
they pick a server with :func:`choose_server`. Directly::

    with Cluster() as cluster:
        url = cluster.create_database("scratch")   # postgresql://postgres@127.0.0.1:PORT/scratch

From a shell (CI starts one server for the whole run and passes its URL to pytest)::

    URL="$(python tests/support/postgres.py start "$STATE")"   # leaves the server running
    python tests/support/postgres.py stop "$STATE"             # stops it, removes $STATE

The server trusts every local connection (``--auth=trust``) and listens on 127.0.0.1 only,
with durability switched off (``fsync=off`` ...): it is fast, and worthless after a crash,
which is fine for data that lives as long as a test run.

PostgreSQL refuses to run as root. When the tests run as root, every server command runs as
the ``postgres`` system user, and the cluster directory is owned by that user; otherwise the
current user runs the server.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, LiteralString
from urllib.parse import quote, urlsplit, urlunsplit

#: CI (``.ci/run``) starts one server for the whole run and passes its URL in this variable.
URL_ENV = "NASHRA_TEST_POSTGRES_URL"

NOT_FOUND_MESSAGE = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH "
    "or in /usr/lib/postgresql/*/bin"
)
SKIP_MESSAGE = "PostgreSQL server binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped"
CI_MESSAGE = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found, and CI requires the PostgreSQL "
    f"tests: install PostgreSQL 15 server binaries or set {URL_ENV} to a server URL"
)

#: Where Debian/Ubuntu packages put the server binaries, which are not on PATH by default.
FALLBACK_BIN_GLOBS: tuple[str, ...] = ("/usr/lib/postgresql/*/bin",)

#: Written into a CLI state directory, so that ``stop`` never deletes a directory it did not make.
_MARKER = "nashra-test-postgres"
_SERVER_USER = "postgres"
_START_ATTEMPTS = 5
# pg_ctl -w waits on the server's own "ready" status; this only bounds a server that hangs.
_START_TIMEOUT_S = 120
_CONNECT_TIMEOUT_S = 30
_LOG_TAIL_LINES = 40
# Messages PostgreSQL logs when another process took the port between our probe and its bind.
_PORT_TAKEN = re.compile(r"could not bind|Address already in use|could not create any TCP/IP")
_SERVER_SETTINGS: tuple[tuple[str, str], ...] = (
    # Durability is useless for a cluster deleted after the run, and costly on a loaded box.
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    # Multi-process tests open many connections at once.
    ("max_connections", "200"),
)


class PostgresError(RuntimeError):
    """The cluster could not be created, started or stopped; the message says why."""


@dataclass(frozen=True)
class Binaries:
    """The two server programs the harness runs; pg_ctl finds ``postgres`` beside itself."""

    initdb: Path
    pg_ctl: Path


def find_binaries() -> Binaries | None:
    """initdb and pg_ctl from PATH, else from the newest /usr/lib/postgresql/*/bin."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Binaries(Path(initdb), Path(pg_ctl))
    for bindir in sorted(_fallback_bindirs(), key=_version_key, reverse=True):
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return Binaries(bindir / "initdb", bindir / "pg_ctl")
    return None


def binaries_available() -> bool:
    """Whether a cluster can be started here (initdb and pg_ctl found)."""
    return find_binaries() is not None


def _fallback_bindirs() -> list[Path]:
    return [Path(p) for pattern in FALLBACK_BIN_GLOBS for p in glob.glob(pattern)]


def _version_key(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); a plain string sort would put 9.6 after 15.
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """Whether ``env[name]`` is a true value (CI services set ``CI=true``; ``CI=0`` is off)."""
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def choose_server(
    env: Mapping[str, str], have_binaries: bool
) -> Literal["env", "cluster", "skip", "fail"]:
    """Where the session's server comes from.

    ``env``: CI started one and set :data:`URL_ENV`; ``cluster``: start our own; ``skip``: no
    binaries on a developer machine; ``fail``: no binaries under CI, where silently skipping
    the PostgreSQL tests would let a broken store pass.
    """
    if env.get(URL_ENV, "").strip():
        return "env"
    if have_binaries:
        return "cluster"
    return "fail" if env_flag(env, "CI") else "skip"


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name``; user, host and query kept."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server and return its URL."""
    _admin(server_url, "CREATE DATABASE {}", name)
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name``; FORCE ends sessions a test left open instead of failing."""
    _admin(server_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def _admin(server_url: str, template: LiteralString, name: str) -> None:
    """Run ``template`` with ``name`` quoted as an identifier, outside any transaction."""
    # Imported here: psycopg takes ~0.5 s to import on a loaded machine, and conftest imports
    # this module for every test run, most of which never touch PostgreSQL.
    import psycopg
    from psycopg import sql

    statement = sql.SQL(template).format(sql.Identifier(name))
    # CREATE/DROP DATABASE cannot run inside a transaction block, hence autocommit.
    with psycopg.connect(server_url, autocommit=True,
                         connect_timeout=_CONNECT_TIMEOUT_S) as conn:
        conn.execute(statement)


def free_port() -> int:
    """A port free on 127.0.0.1 right now; another process may take it before the server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """A PostgreSQL cluster in a private directory, started on a free 127.0.0.1 port.

    ``base_dir`` None: a new temporary directory, removed by :meth:`stop`. Given (the CLI's
    STATE_DIR): created if missing, must be empty, and is removed by :meth:`stop` as well.
    ``stop_at_exit`` registers :meth:`stop` with atexit, so a crashed run leaves no server.
    """

    def __init__(self, base_dir: Path | None = None, *, stop_at_exit: bool = True) -> None:
        binaries = find_binaries()
        if binaries is None:
            raise PostgresError(NOT_FOUND_MESSAGE)
        self._binaries = binaries
        self._requested_dir = base_dir
        self._stop_at_exit = stop_at_exit
        self._user = _server_user()
        self.base_dir: Path | None = None
        self.port: int | None = None

    @property
    def data_dir(self) -> Path:
        return self._dir() / "data"

    @property
    def log_path(self) -> Path:
        return self._dir() / "server.log"

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres`` (trust auth: no password)."""
        if self.port is None:
            raise PostgresError("the cluster is not started")
        return f"postgresql://{_SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        """Create a fresh database and return its URL."""
        return create_database(self.url, name)

    def start(self) -> Cluster:
        """initdb, then start the server; on any failure nothing is left running."""
        self.base_dir = _make_base_dir(self._requested_dir, self._user)
        if self._stop_at_exit:
            atexit.register(self.stop)
        try:
            self._initdb()
            self.port = self._start_on_free_port()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (immediate: no checkpoint for data about to be deleted), remove files.

        Safe to call twice, and on a cluster whose start failed half-way.
        """
        if self._stop_at_exit:
            atexit.unregister(self.stop)
        if self.base_dir is None:
            return
        stop_server(self._binaries, self.data_dir, self._user)
        shutil.rmtree(self.base_dir, ignore_errors=True)
        self.base_dir, self.port = None, None

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _dir(self) -> Path:
        if self.base_dir is None:
            raise PostgresError("the cluster is not started")
        return self.base_dir

    def _initdb(self) -> None:
        _run_as(self._user, [
            str(self._binaries.initdb), "-D", str(self.data_dir), "-U", _SERVER_USER,
            "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ], cwd=self._dir(), what="initdb")

    def _start_on_free_port(self) -> int:
        # The probe socket is closed before the server binds, so another process can take the
        # port in between; only that failure is retried, with a new port.
        for _ in range(_START_ATTEMPTS):
            port = free_port()
            log_offset = _size(self.log_path)
            try:
                self._pg_ctl_start(port)
                return port
            except PostgresError:
                if not _PORT_TAKEN.search(_read_from(self.log_path, log_offset)):
                    raise
        raise PostgresError(f"no free port after {_START_ATTEMPTS} attempts\n{self._log_tail()}")

    def _pg_ctl_start(self, port: int) -> None:
        # pg_ctl hands -o to /bin/sh, hence the quoting of the socket directory.
        options = ["-h", "127.0.0.1", "-p", str(port), "-k", shlex.quote(str(self._dir()))]
        for name, value in _SERVER_SETTINGS:
            options += ["-c", f"{name}={value}"]
        try:
            _run_as(self._user, [
                str(self._binaries.pg_ctl), "-D", str(self.data_dir), "-l", str(self.log_path),
                "-w", "-t", str(_START_TIMEOUT_S), "-o", " ".join(options), "start",
            ], cwd=self._dir(), what="pg_ctl start")
        except PostgresError as exc:
            raise PostgresError(f"{exc}\n{self._log_tail()}") from None

    def _log_tail(self) -> str:
        lines = _read_from(self.log_path, 0).splitlines()[-_LOG_TAIL_LINES:]
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(lines)


def stop_server(binaries: Binaries, data_dir: Path, user: pwd.struct_passwd | None) -> None:
    """``pg_ctl stop -m immediate`` if a server runs on ``data_dir``; no-op otherwise."""
    if not (data_dir / "postmaster.pid").exists():
        return
    _run_as(user, [str(binaries.pg_ctl), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
            cwd=data_dir.parent, what="pg_ctl stop")


def _server_user() -> pwd.struct_passwd | None:
    """The user to run the server as: ``postgres`` when we are root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(_SERVER_USER)
    except KeyError:
        raise PostgresError(
            f"running as root, and PostgreSQL refuses to: create a {_SERVER_USER!r} user"
        ) from None


def _make_base_dir(requested: Path | None, user: pwd.struct_passwd | None) -> Path:
    if requested is None:
        # As root, not $TMPDIR: it may sit under a directory the postgres user cannot enter.
        base = Path(tempfile.mkdtemp(prefix="nashra-pg-", dir="/tmp" if user else None))
    else:
        base = requested.absolute()
        if user is not None:
            _check_reachable(base, user)  # before mkdir, so a refusal leaves nothing behind
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        if any(base.iterdir()):
            raise PostgresError(f"{base} is not empty")
        (base / _MARKER).write_text("a throwaway PostgreSQL cluster for Nashra's tests\n")
    if user is not None:
        _chown_tree(base, user)
    return base


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    for entry in [path, *path.rglob("*")]:
        os.chown(entry, user.pw_uid, user.pw_gid)


def _check_reachable(path: Path, user: pwd.struct_passwd) -> None:
    # A 0700 parent owned by root (pytest's tmp_path is one) makes initdb fail with a bare
    # "Permission denied"; say which directory is the problem instead.
    # Parents that do not exist yet are made by mkdir with mode 0755 (umask 022): enterable.
    for parent in (p for p in path.parents if p.exists()):
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            search_bit = 0o100
        elif st.st_gid == user.pw_gid:
            search_bit = 0o010
        else:
            search_bit = 0o001
        if not st.st_mode & search_bit:
            raise PostgresError(
                f"{path} cannot be used: user {user.pw_name!r} cannot enter {parent}; "
                "choose a directory under /tmp"
            )


def _run_as(
    user: pwd.struct_passwd | None, argv: Sequence[str], *, cwd: Path, what: str
) -> None:
    """Run a server command as ``user`` (None: ourselves); raise with its output on failure."""
    # subprocess itself drops to the user (setgid, setgroups, setuid in the child), which is
    # what `runuser -u postgres` does, minus a PAM session.
    result = subprocess.run(
        argv, cwd=cwd, env=_server_env(user), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, check=False,
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        extra_groups=[] if user else None,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise PostgresError(f"{what} failed (exit {result.returncode}):\n{output}")


def _server_env(user: pwd.struct_passwd | None) -> dict[str, str]:
    # PG* variables (PGPORT, PGDATA, PGHOST...) from the caller must not redirect the commands.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"  # server messages in English, so _PORT_TAKEN can match them
    if user is not None:
        env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    return env


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


# --- command line: one server for a whole CI run ---------------------------------------------


def cli_start(state_dir: Path) -> str:
    """Start a detached cluster whose files live in ``state_dir``; return its URL."""
    cluster = Cluster(state_dir, stop_at_exit=False)
    cluster.start()
    return cluster.url


def cli_stop(state_dir: Path) -> None:
    """Stop the cluster in ``state_dir`` (if running) and remove the directory."""
    state_dir = state_dir.absolute()
    if not state_dir.exists():
        return
    if not (state_dir / _MARKER).exists():
        raise PostgresError(f"{state_dir} was not made by '{Path(__file__).name} start'; "
                            "not removing it")
    binaries = find_binaries()
    if binaries is not None:
        stop_server(binaries, state_dir / "data", _server_user())
    shutil.rmtree(state_dir)


def main(argv: Sequence[str]) -> int:
    usage = f"usage: {Path(__file__).name} start|stop STATE_DIR"
    if len(argv) != 2 or argv[0] not in {"start", "stop"}:
        print(usage, file=sys.stderr)
        return 2
    command, state_dir = argv[0], Path(argv[1])
    try:
        if command == "start":
            print(cli_start(state_dir), flush=True)
        else:
            cli_stop(state_dir)
    except PostgresError as exc:
        print(f"{Path(__file__).name} {command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
