"""Start real ``manage.py`` command processes for the tests and follow their log output."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETTINGS = "tests.workerapp.settings"


class CommandProcess:
    """A ``python -m django <command>`` child whose stdout+stderr lines are collected."""

    def __init__(self, args: Iterable[str], env: dict[str, str]) -> None:
        full_env = {**os.environ, **env, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        full_env.pop("DJANGO_SETTINGS_MODULE", None)
        self.args = [sys.executable, "-m", "django", *args, "--settings", SETTINGS]
        self.process = subprocess.Popen(
            self.args,
            cwd=REPO,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            # Own process group: runserver's autoreloader runs the server in a child process,
            # and clean-up must reach it too.
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 20.0, start: int = 0) -> str:
        """Block until a line (from index ``start``) matches the regex; return it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and
                                      not self._reader.is_alive()):
                    raise AssertionError(
                        f"no line matching {pattern!r} in {' '.join(self.args[3:5])} output "
                        f"(exit code {self.process.poll()}):\n" + "\n".join(self.lines[-60:])
                    )
                self._changed.wait(remaining)

    def count(self, pattern: str) -> int:
        """How many output lines match the regex so far."""
        regex = re.compile(pattern)
        with self._changed:
            return sum(1 for line in self.lines if regex.search(line))

    def signal(self, signum: int) -> None:
        """Signal the process itself."""
        self.process.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        """Signal the whole process group (what a terminal's Ctrl-C does)."""
        os.killpg(self.process.pid, signum)

    def wait(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    def stop(self) -> None:
        """Kill it and anything it started, if still running (test clean-up)."""
        with contextlib.suppress(ProcessLookupError):  # the whole group already exited
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
