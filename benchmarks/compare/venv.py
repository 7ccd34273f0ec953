"""The separate virtualenv that holds Channels 4, Daphne 4 and channels_redis.

Created on first use in ``benchmarks/.venv-channels4`` (git-ignored) with the interpreter
running the benchmark; later runs reuse it when the versions still match.  uvloop goes in too:
the WebSocket load client runs from this virtualenv and uses it when it can.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

__all__ = ["REQUIREMENTS", "ensure_venv"]

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / "benchmarks" / ".venv-channels4"
REQUIREMENTS = ["channels>=4,<5", "daphne>=4,<5", "channels-redis>=4,<5", "Django>=4.2,<6",
                "uvloop"]
_PROBE = (
    "import json, importlib.metadata as m; "
    "import channels, daphne, channels_redis, django, uvloop; "
    "print(json.dumps({name: m.version(name) for name in "
    "('channels', 'daphne', 'channels-redis', 'Django', 'redis', 'Twisted', 'uvloop')}))"
)


def _versions(python: Path) -> dict[str, str] | None:
    if not python.exists():
        return None
    probe = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True,
                           timeout=60, check=False)
    if probe.returncode != 0:
        return None
    versions: dict[str, str] = json.loads(probe.stdout)
    major = {name: int(versions[name].split(".")[0]) for name in
             ("channels", "daphne", "channels-redis")}
    return versions if all(value == 4 for value in major.values()) else None


def ensure_venv(log: object = print) -> tuple[Path, dict[str, str]]:
    """Create or reuse the virtualenv; return its directory and the installed versions.

    Raises:
        RuntimeError: the virtualenv cannot be created or the packages cannot be installed.
    """
    python = VENV / "bin" / "python"
    versions = _versions(python)
    if versions is not None:
        return VENV, versions
    log(f"Creating {VENV.relative_to(REPO)} (Channels 4, Daphne 4, channels_redis 4) ...")  # type: ignore[operator]
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *REQUIREMENTS],
        capture_output=True, text=True, timeout=900, check=False)
    if install.returncode != 0:
        raise RuntimeError(f"pip install into {VENV} failed:\n{install.stderr[-3000:]}")
    versions = _versions(python)
    if versions is None:
        raise RuntimeError(f"{VENV} does not import channels/daphne/channels_redis 4.x")
    return VENV, versions
