"""A throw-away PostgreSQL and Redis from Debian's packages, on free loopback ports.

PostgreSQL refuses to run as root, so when the tests run as root its commands run as
the `postgres` user that Debian's package creates (`runuser -u postgres`). Nothing is
installed or configured system-wide: the cluster lives in a temporary directory and is
deleted afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts.serve import free_port


def _postgres_bin(name: str) -> str | None:
    """Debian keeps initdb/pg_ctl out of PATH, under /usr/lib/postgresql/<major>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return found[-1] if found else shutil.which(name)


def missing_binaries() -> list[str]:
    missing = [name for name in ("initdb", "pg_ctl") if _postgres_bin(name) is None]
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser")
    return missing


def _as_db_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class Postgres:
    port: int = field(default_factory=free_port)
    user: str = "rasa"
    password: str = "scaleout-test"  # a throw-away local cluster; loopback only
    database: str = "rasa"
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mpnbot-pg-")))

    @property
    def url(self) -> str:
        return (f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/"
                f"{self.database}")

    def _run(self, *command: str) -> None:
        result = subprocess.run(_as_db_user(list(command)), capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}\n{self.log_tail()}")

    def log_tail(self) -> str:
        log = self.directory / "postgres.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def start(self) -> Postgres:
        data = self.directory / "data"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        password_file = self.directory / "pwfile"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(password_file, "postgres", "postgres")
        self._run(_postgres_bin("initdb"), "-D", str(data), "-U", self.user,
                  f"--pwfile={password_file}", "-A", "scram-sha-256", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        # fsync off: a test cluster that is thrown away; 200 connections for two replicas.
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._run(_postgres_bin("pg_ctl"), "-D", str(data), "-o", options, "-l",
                  str(self.directory / "postgres.log"), "-w", "-t", "60", "start")
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg2

        deadline = time.monotonic() + 30
        while True:
            try:
                connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user,
                                              password=self.password, dbname="postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {self.database}")
        connection.close()

    def query(self, sql: str) -> list[tuple]:
        import psycopg2

        connection = psycopg2.connect(self.url)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            connection.close()

    def stop(self) -> None:
        data = self.directory / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_db_user([_postgres_bin("pg_ctl"), "-D", str(data), "-m", "fast",
                                        "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Redis:
    port: int = field(default_factory=free_port)
    _process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start (exit {self._process.poll()})") from None
                time.sleep(0.2)

    def client(self):  # noqa: ANN201 - redis.Redis, imported lazily
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
