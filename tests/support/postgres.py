"""A throwaway PostgreSQL server for the tests, and databases shaped like the runbook's."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions

from tests.support.runbook_schema import APP_TABLES, MIGRATION_TABLES, schema_sql

# Heroku's DATABASE_URL credential: owns the tables, not a superuser; on production plans
# (Standard 0 is the runbook's) a member of pg_monitor, so it sees every role's sessions.
OWNER = "raxx_owner"
OWNER_PASSWORD = "owner-Pw-3c1d9f"
TEMPLATE = "runbook_template"
REVISION = "0001_raptor_baseline"


@dataclass(frozen=True)
class PgServer:
    """A running server and a superuser URL for it."""

    admin_url: str

    def url(self, dbname: str, user: str, password: str) -> str:
        parts = urlsplit(self.admin_url)
        netloc = f"{quote(user)}:{quote(password)}@{parts.hostname}:{parts.port}"
        return urlunsplit(("postgresql", netloc, f"/{dbname}", parts.query, ""))

    def admin(self, dbname: str = "postgres") -> psycopg2.extensions.connection:
        parts = urlsplit(self.admin_url)
        conn = psycopg2.connect(urlunsplit(parts._replace(path=f"/{dbname}")))
        conn.autocommit = True
        return conn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]),
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found: run scripts/test, which installs them"
        )
    return Path(pg_ctl).parent


def _server_tool(command: list[str], log: Path | None = None) -> None:
    """Run initdb or pg_ctl; on failure, say what it printed (and the server log)."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        logged = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        tool = next(Path(c).name for c in command if Path(c).name in ("initdb", "pg_ctl"))
        raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()} {logged}")


@contextlib.contextmanager
def throwaway_server() -> Iterator[PgServer]:
    """initdb + pg_ctl in a temporary directory on a free loopback port; removed afterwards."""
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="watcher-pg-"))
    as_root = os.geteuid() == 0
    # initdb refuses to run as root: run the server tools as the postgres user then.
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    password = secrets.token_hex(12)
    (base / "pw").write_text(password)
    if as_root:
        owner = pwd.getpwnam("postgres")
        base.chmod(0o755)
        for path in (base, base / "pw"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    data, port = base / "data", free_port()
    options = " ".join(
        f"-c {o}"
        for o in (
            f"port={port}",
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={base}",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            # No autovacuum: a transaction id appears only when somebody writes, which the
            # read-only test relies on.
            "autovacuum=off",
            "max_connections=100",
        )
    )
    try:
        _server_tool(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--no-locale",
                "-E",
                "UTF8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={base / 'pw'}",
            ]
        )
        _server_tool(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            log=base / "log",
        )
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    try:
        yield PgServer(f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


def prepare_server(server: PgServer) -> None:
    """The owner role and a template database with the runbook's schema (step 4.1)."""
    with contextlib.closing(server.admin()) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE ROLE {OWNER} LOGIN PASSWORD %s", (OWNER_PASSWORD,))
        cur.execute(f"GRANT pg_monitor TO {OWNER}")
        cur.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        cur.execute(f"CREATE DATABASE {TEMPLATE} OWNER {OWNER}")
    with contextlib.closing(server.admin(TEMPLATE)) as conn, conn.cursor() as cur:
        cur.execute(f"SET ROLE {OWNER}")
        cur.execute(schema_sql(REVISION))


@dataclass(frozen=True)
class WatchedDatabase:
    """One test's copy of the production database: owned by OWNER, with its own app role."""

    server: PgServer
    name: str
    app_role: str
    app_password: str

    @property
    def owner_url(self) -> str:
        """What the watcher is given: the DATABASE_URL owner credential."""
        return self.server.url(self.name, OWNER, OWNER_PASSWORD)

    @property
    def app_url(self) -> str:
        return self.server.url(self.name, self.app_role, self.app_password)

    def admin(self) -> psycopg2.extensions.connection:
        """A superuser connection to this database, to break it the ways production breaks."""
        return self.server.admin(self.name)

    def execute(self, *statements: str) -> None:
        with contextlib.closing(self.admin()) as conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)

    def scalar(self, sql: str) -> object:
        with contextlib.closing(self.admin()) as conn, conn.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
            return None if row is None else row[0]


def grants_sql(role: str) -> list[str]:
    """Runbook step 4.6, with the SELECT that pg:credentials:create grants (4.4)."""
    return [
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        *(f"REVOKE ALL ON TABLE {t} FROM {role}" for t in MIGRATION_TABLES),
    ]


@contextlib.contextmanager
def watched_database(server: PgServer, app_role: str | None = None) -> Iterator[WatchedDatabase]:
    """A fresh database from the template, a fresh app role with the 4.6 grants; dropped after.
    The role is `app_role` on a server of one's own, else unique (roles are server-wide)."""
    suffix = secrets.token_hex(4)
    role = app_role or f"raptor_app_{suffix}"
    db = WatchedDatabase(server, f"raxx_{suffix}", role, secrets.token_hex(8))
    with contextlib.closing(server.admin()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {db.app_role} LOGIN PASSWORD %s", (db.app_password,))
        cur.execute(f"CREATE DATABASE {db.name} TEMPLATE {TEMPLATE} OWNER {OWNER}")
    with contextlib.closing(server.admin(db.name)) as conn, conn.cursor() as cur:
        cur.execute(f"SET ROLE {OWNER}")
        for statement in grants_sql(db.app_role):
            cur.execute(statement)
    try:
        yield db
    finally:
        with contextlib.closing(server.admin()) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
            cur.execute(f"DROP ROLE IF EXISTS {db.app_role}")


@dataclass(frozen=True)
class Credential:
    """Another login role on a watched database."""

    name: str
    url: str


@contextlib.contextmanager
def limited_credential(db: WatchedDatabase, can_read: bool = True) -> Iterator[Credential]:
    """A credential as `pg:credentials:create` makes one (no pg_monitor), as on Essential
    plans or for a custom credential; `can_read`: SELECT on every table and sequence."""
    name, password = f"limited_{secrets.token_hex(4)}", secrets.token_hex(8)
    db.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    if can_read:
        with contextlib.closing(db.admin()) as conn, conn.cursor() as cur:
            cur.execute(f"SET ROLE {OWNER}")
            cur.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}")
            cur.execute(f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}")
    try:
        yield Credential(name, db.server.url(db.name, name, password))
    finally:
        db.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'",
            f"DROP OWNED BY {name}",
            f"DROP ROLE {name}",
        )


__all__ = ["APP_TABLES", "OWNER", "REVISION", "PgServer", "WatchedDatabase"]


@dataclass(frozen=True)
class EmptyDatabase:
    """A database with nothing in it, e.g. for a PostgreSQL state store."""

    server: PgServer
    name: str

    @property
    def url(self) -> str:
        """As the superuser (the state store's tests need no other role)."""
        return urlunsplit(urlsplit(self.server.admin_url)._replace(path=f"/{self.name}"))


@contextlib.contextmanager
def empty_database(server: PgServer) -> Iterator[EmptyDatabase]:
    """A fresh, empty database on `server`, dropped (sessions and all) afterwards."""
    name = f"state_{secrets.token_hex(6)}"
    admin = server.admin()
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        yield EmptyDatabase(server, name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
