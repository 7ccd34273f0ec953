"""Child processes of the benchmark: start, follow their logs, read their CPU time, stop them.

Every process is started in its own session (so a Ctrl-C in the terminal reaches only the
benchmark, which then stops its children in order) and recorded in a registry; ``stop_all()``
kills whatever is still running, by process group id, and is called from ``finally`` blocks
and, once :func:`install_exit_handlers` ran, on SIGTERM and at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ChildProcess", "cpu_seconds", "install_exit_handlers", "stop_all"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_registry: list[ChildProcess] = []
_registry_lock = threading.Lock()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (all its threads) from ``/proc/<pid>/stat``.

    Returns None when the process is gone.
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = raw[raw.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of the full line
    return (utime + stime) / _CLOCK_TICKS


class ChildProcess:
    """A started command whose merged stdout/stderr lines are kept (and written to a file)."""

    def __init__(self, name: str, args: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, log_path: Path | None = None) -> None:
        self.name = name
        self.args = list(args)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        # Line-buffered: the file is readable while the run goes on.
        self._log = open(log_path, "w", encoding="utf-8", buffering=1) if log_path else None  # noqa: SIM115
        self.process = subprocess.Popen(
            self.args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True,
        )
        with _registry_lock:
            _registry.append(self)
        self._reader = threading.Thread(target=self._read, name=f"log-{name}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            log = self._log
            if log is not None:
                with contextlib.suppress(ValueError):  # closed by stop() meanwhile
                    log.write(line + "\n")
            with self._changed:
                # Keep memory bounded if a component logs a line per request (the file has
                # them all).
                if len(self.lines) < 200_000:
                    self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Block until a log line matches ``pattern``; return the match.

        Raises:
            RuntimeError: the process exited or the timeout passed first (with its last lines).
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                exited = self.process.poll() is not None and not self._reader.is_alive()
                if remaining <= 0 or exited:
                    raise RuntimeError(
                        f"{self.name} ({' '.join(self.args[:4])} ...) "
                        f"{'exited with ' + str(self.process.poll()) if exited else 'timed out'}"
                        f" before logging {pattern!r}; last lines:\n  "
                        + "\n  ".join(self.lines[-25:]))
                self._changed.wait(min(remaining, 1.0))

    def matching(self, pattern: str, start: int = 0) -> list[str]:
        """Log lines from index ``start`` on that match ``pattern``."""
        regex = re.compile(pattern)
        with self._changed:
            return [line for line in self.lines[start:] if regex.search(line)]

    def line_count(self) -> int:
        """How many lines were logged so far."""
        with self._changed:
            return len(self.lines)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        else:
            # The leader is gone; make sure nothing it started lingers.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._reader.join(2)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        with _registry_lock:
            if self in _registry:
                _registry.remove(self)


def stop_all() -> None:
    """Stop every child still registered (newest first)."""
    with _registry_lock:
        children = list(reversed(_registry))
    for child in children:
        with contextlib.suppress(Exception):
            child.stop(grace=2.0)


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def install_exit_handlers() -> None:
    """Stop every child at interpreter exit and on SIGTERM (call once, from the main thread
    of the command; importing this module changes nothing)."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_sigterm)
