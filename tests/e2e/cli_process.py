"""Running the real `parley` console script as a child process, as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

PARLEY = Path(sys.executable).parent / "parley"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**variables: str) -> dict[str, str]:
    """The current environment without PARLEY_* settings, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(variables)
    return env


def parley(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PARLEY), *args], env=env, capture_output=True, text=True, timeout=timeout)
