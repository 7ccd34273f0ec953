"""Run the example chat site the way it is deployed: the Procfile's processes, real Redis.

A :class:`Site` is one deployment: an env file (what ``honcho -e`` and a Heroku-style host
give the processes), a SQLite database file and a Redis URL.  Processes are started either by
``honcho`` itself or, when a test must signal or kill one process without honcho stopping all
the others, by running one Procfile line through ``/bin/sh -c`` exactly as honcho does.

Every wait is bounded and synchronises on something that really happens (a log line, a process
exit); a timeout raises an AssertionError carrying the processes' recent output.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example"
PROCFILE = REPO / "Procfile"

#: The interface server's line once it accepts connections (the port is the real one).
WEB_READY = r"Listening on tcp at [^\s:]+:(\d+)"
#: A runworker process's line once its threads fetch messages.
WORKER_READY = r"Worker started with \d+ threads?, listening on channels"


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    """Process types and commands of a Procfile (comment and blank lines skipped)."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        assert match, f"not a Procfile line: {line!r}"
        processes[match.group(1)] = match.group(2)
    return processes


class LoggedProcess:
    """A child process (own process group) whose stdout and stderr lines are collected."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.args = list(args)
        self.process = subprocess.Popen(
            self.args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def tail(self, count: int = 80) -> str:
        """The last ``count`` output lines, for failure messages."""
        with self._changed:
            lines = self.lines[-count:]
        return f"--- {self.name} (pid {self.pid}, exit {self.process.poll()}) ---\n" + "\n".join(
            lines
        )

    def wait_for(
        self, pattern: str, timeout: float = 30.0, start: int = 0, context: str = ""
    ) -> re.Match[str]:
        """Block until an output line (from index ``start``) matches; return the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                finished = self.process.poll() is not None and not self._reader.is_alive()
                if remaining <= 0 or finished:
                    why = "exited" if finished else f"nothing within {timeout} s"
                    raise AssertionError(
                        f"{self.name}: no line matching {pattern!r} ({why})\n"
                        f"{self.tail_unlocked()}\n{context}"
                    )
                self._changed.wait(remaining)

    def tail_unlocked(self, count: int = 80) -> str:
        return f"--- {self.name} (pid {self.pid}, exit {self.process.poll()}) ---\n" + "\n".join(
            self.lines[-count:]
        )

    def count(self, pattern: str) -> int:
        """How many output lines so far match the regex."""
        regex = re.compile(pattern)
        with self._changed:
            return sum(1 for line in self.lines if regex.search(line))

    def mark(self) -> int:
        """Index of the next output line (to wait only for lines after this point)."""
        with self._changed:
            return len(self.lines)

    def send_signal(self, signum: int) -> None:
        """Signal the process itself (not its group)."""
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0, context: str = "") -> int:
        """Wait for the exit and the end of the output; return the exit status."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} still running after {timeout} s\n{self.tail()}\n{context}"
            ) from None
        self._reader.join(timeout)
        return code

    def stop(self) -> None:
        """Stop the process and everything it started, if still there (clean-up).

        SIGTERM first, so that ``honcho`` stops the processes it started in their own process
        groups; whatever is left after a bound is killed, children named in ``started (pid=N)``
        lines included.
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        with self._changed:
            children = [int(pid) for line in self.lines
                        for pid in re.findall(r" started \(pid=(\d+)\)", line)]
        for pid in [self.process.pid, *children]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


class Site:
    """One deployment of the example site: env file, database file, Redis URL."""

    def __init__(self, directory: Path, redis_url: str | None,
                 **extra_env: str) -> None:
        self.directory = directory
        self.database = directory / "chat.sqlite3"
        self.env_file = directory / "site.env"
        self.values: dict[str, str] = {
            "SECRET_KEY": "e2e-" + secrets.token_hex(24),
            "DATABASE_URL": f"sqlite:///{self.database}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback, no TLS terminator: cookies must not be HTTPS-only.
            "SECURE_COOKIES": "0",
            # The interface server picks a free port and logs it.
            "PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
        if redis_url is not None:
            self.values["REDIS_URL"] = redis_url
        self.values.update(extra_env)
        self.env_file.write_text(
            "".join(f"{key}={value}\n" for key, value in self.values.items())
        )
        self.processes: list[LoggedProcess] = []

    def base_environment(self) -> dict[str, str]:
        """The test process's environment, minus its Django settings, with this Python first."""
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        # So test-only settings modules (tests.*) import in the site's processes.
        env["PYTHONPATH"] = str(REPO)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def honcho(self, *args: str, name: str = "honcho") -> LoggedProcess:
        """``honcho start`` with this site's env file, from the repository root."""
        proc = LoggedProcess(
            name,
            [sys.executable, "-m", "honcho", "--no-colour", "-f", str(PROCFILE),
             "-e", str(self.env_file), *args],
            self.base_environment(),
            REPO,
        )
        self.processes.append(proc)
        return proc

    def release(self, timeout: float = 60.0) -> None:
        """Run the Procfile's ``release`` line (migrations) through honcho, as documented."""
        proc = self.honcho("start", "release", name="honcho release")
        code = proc.wait(timeout)
        assert code == 0, f"release failed ({code})\n{proc.tail()}"
        proc.wait_for(r"release\.1 stopped \(rc=0\)")

    def procfile_process(self, kind: str, number: int = 1, **extra_env: str) -> LoggedProcess:
        """One Procfile line run by ``/bin/sh -c`` with the env file's values, as honcho does."""
        command = read_procfile()[kind]
        env = {**self.base_environment(), **self.values, **extra_env,
               "HONCHO_PROCESS_NAME": f"{kind}.{number}"}
        proc = LoggedProcess(f"{kind}.{number}", ["/bin/sh", "-c", command], env, REPO)
        self.processes.append(proc)
        return proc

    def output(self) -> str:
        """Recent output of every process of this site, for failure messages."""
        return "\n".join(proc.tail() for proc in self.processes)

    def stop_all(self) -> None:
        for proc in self.processes:
            proc.stop()

    # -- the database, read directly ---------------------------------------------------------

    def rows(self, room: str) -> list[tuple[int, str, str]]:
        """``(id, username, message)`` of a room's saved messages, in history order."""
        with contextlib.closing(sqlite3.connect(self.database, timeout=20)) as db:
            return list(db.execute(
                "SELECT id, username, message FROM chat_chatmessage WHERE room = ? "
                "ORDER BY created, id", (room,)
            ))


@dataclass
class Stack:
    """A running web process and its workers."""

    site: Site
    port: int
    web: LoggedProcess
    workers: list[LoggedProcess]
    honcho: LoggedProcess | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ws_url(self, room: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/{room}/"

    def diagnostics(self) -> str:
        """Output of every process, for failure messages."""
        return self.site.output()

    def assert_running(self) -> None:
        for proc in [self.web, *self.workers]:
            assert proc.running, f"{proc.name} exited\n{self.diagnostics()}"


class HonchoView:
    """The lines of one process type inside honcho's combined output."""

    def __init__(self, honcho: LoggedProcess, name: str) -> None:
        self.honcho = honcho
        self.name = name
        self._prefix = re.escape(name) + r" +\| "

    def wait_for(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        return self.honcho.wait_for(self._prefix + ".*?" + pattern, timeout, start)


def start_with_honcho(site: Site, workers: int = 2, timeout: float = 60.0) -> Stack:
    """``honcho start -c worker=N web worker``: wait until web listens and every worker fetches."""
    honcho = site.honcho("start", "-c", f"worker={workers}", "web", "worker")
    port = int(honcho.wait_for(r"web\.1 +\| .*" + WEB_READY, timeout).group(1))
    for number in range(1, workers + 1):
        honcho.wait_for(rf"worker\.{number} +\| .*" + WORKER_READY, timeout)
    pids = {
        match.group(1): int(match.group(2))
        for match in re.finditer(r"(\S+) started \(pid=(\d+)\)", "\n".join(honcho.lines))
    }
    assert set(pids) >= {"web.1", *(f"worker.{n}" for n in range(1, workers + 1))}, pids
    # Views over honcho's output stand in for the separate processes.
    return Stack(site=site, port=port, web=honcho, workers=[honcho], honcho=honcho)


def start_processes(site: Site, workers: int = 2, timeout: float = 60.0,
                    **extra_env: str) -> Stack:
    """Each Procfile line as its own process group, so one can be signalled alone."""
    web = site.procfile_process("web", **extra_env)
    started = [site.procfile_process("worker", n, **extra_env) for n in range(1, workers + 1)]
    port = int(web.wait_for(WEB_READY, timeout, context=site.output()).group(1))
    for worker in started:
        worker.wait_for(WORKER_READY, timeout, context=site.output())
    return Stack(site=site, port=port, web=web, workers=started)


def wait_all(procs: Iterable[LoggedProcess], pattern: str, timeout: float = 30.0) -> None:
    """Wait for a matching line in each process's output."""
    for proc in procs:
        proc.wait_for(pattern, timeout)
