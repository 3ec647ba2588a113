"""A real PostgreSQL server for tests and benchmarks: Debian's package, a fresh cluster in a temp dir.

``PostgresServer.start()`` runs ``initdb`` and ``pg_ctl`` on a loopback port chosen at run time, waits
(bounded) until it accepts connections, and ``stop()`` always shuts it down (``pg_ctl stop -m immediate``).
PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` system user and the
commands run through ``runuser``. Password authentication (scram-sha-256) on TCP, like a team's server:
the superuser's password is handed to clients through ``PGPASSWORD``, never put in a URL.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "deck_admin"
START_TIMEOUT_S = 60.0


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/NN/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    root: Path
    port: int
    password: str
    bindir: Path
    _as: list[str] = field(default_factory=list)  # ["runuser", "-u", "postgres", "--"] when root

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        """A URL without a password (clients read it from PGPASSWORD, as the product asks operators to)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password}

    @classmethod
    def start(cls) -> "PostgresServer":
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        root = Path(tempfile.mkdtemp(prefix="modeldeck-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        server = cls(root=root, port=_free_port(), password=secrets.token_hex(12), bindir=bindir, _as=as_user)
        try:
            server._init_and_start()
        except BaseException:
            server.stop()
            raise
        return server

    @classmethod
    def start_kept(cls, root: Path) -> "PostgresServer":
        """A cluster in ``root`` that outlives the process (a benchmark's 10M-row load is kept between runs):
        made on the first call, started again on later ones; ``halt()`` stops it and keeps the files. The
        password of this throwaway loopback cluster is kept beside it (mode 600) to reconnect."""
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        root.mkdir(parents=True, exist_ok=True)
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_user:
            shutil.chown(root, "postgres", "postgres")
        secret = root / "password"
        if not (root / "data").exists():
            server = cls(root=root, port=_free_port(), password=secrets.token_hex(12), bindir=bindir, _as=as_user)
            secret.write_text(server.password)
            secret.chmod(0o600)
            server._init_and_start()
            return server
        conf = (root / "data" / "postgresql.conf").read_text()
        port = int(conf.rsplit("\nport = ", 1)[1].split()[0])
        server = cls(root=root, port=port, password=secret.read_text().strip(), bindir=bindir, _as=as_user)
        if not (server.data / "postmaster.pid").exists():
            server._run(str(bindir / "pg_ctl"), "-D", str(server.data), "-l", str(root / "log"), "-w",
                        "-t", str(int(START_TIMEOUT_S)), "start")
        return server

    def halt(self) -> None:
        """Stop the server cleanly and keep its files (``start_kept`` starts it again)."""
        subprocess.run([*self._as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                        "-w", "-t", "60", "stop"], capture_output=True, timeout=120)

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")

    def _init_and_start(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                  "-A", "scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            # Loopback only, a socket in our own dir, and small: six engineers share two cores.
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.root}'\nfsync = off\nsynchronous_commit = off\n"
                       "full_page_writes = off\nshared_buffers = 64MB\nmax_connections = 40\n")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-t", str(int(START_TIMEOUT_S)), "start")
        deadline = time.monotonic() + START_TIMEOUT_S
        import psycopg

        while True:  # bounded: pg_ctl -w already waited; this proves TCP + password work
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, password=self.password,
                                     dbname="postgres", connect_timeout=3):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def create_database(self, name: str) -> str:
        """A fresh database; returns its URL (no password)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "-t", "30", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)
