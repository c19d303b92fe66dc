"""A 3-node NATS JetStream cluster started from deploy/nats/cluster/n{1,2,3}.conf.

The configs are used as shipped, rewritten only where a test must differ from a deployment:
loopback addresses and free ports instead of 0.0.0.0:4222/6222/8222, route URLs (given in the
environment, as in a deployment) to 127.0.0.1 instead of the host names n1..n3, and a temp
directory instead of /data. Every rewrite must match exactly once, so a config whose
shape changes fails here instead of being silently half-rewritten.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from adapters.embedded.nats_server import nats_server_binary
from tests.e2e.cli_process import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "cluster"
NAMES = ("n1", "n2", "n3")


@dataclass
class Node:
    name: str
    config: Path
    client_port: int
    monitor_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    nodes: dict[str, Node]
    env: dict[str, str]
    app_user: str
    app_password: str
    admin_user: str
    admin_password: str

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    def start(self, name: str) -> None:
        node = self.nodes[name]
        node._log = open(node.log_path, "ab")
        node.process = subprocess.Popen([str(nats_server_binary()), "-c", str(node.config)], env=self.env,
                                        stdin=subprocess.DEVNULL, stdout=node._log, stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        self._signal(name, signal.SIGKILL)

    def stop(self, name: str) -> None:
        self._signal(name, signal.SIGTERM)

    def wait_healthy(self, *names: str, timeout: float = 60.0) -> None:
        """Until each node's monitoring port reports JetStream healthy (meta leader known, streams current)."""
        deadline = time.monotonic() + timeout
        for name in names or tuple(self.nodes):
            node = self.nodes[name]
            while True:
                assert node.alive(), f"{name} exited:\n{node.log_tail()}"
                try:
                    if httpx.get(f"http://127.0.0.1:{node.monitor_port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{name} not healthy in {timeout:g}s:\n{node.log_tail()}"
                time.sleep(0.1)

    def close(self) -> None:
        for name in self.nodes:
            self._signal(name, signal.SIGTERM)

    def _signal(self, name: str, sig: signal.Signals) -> None:
        node = self.nodes[name]
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(sig)
            try:
                node.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        if node._log is not None:
            node._log.close()
            node._log = None


def rewrite(text: str, *, client: int, monitor: int, routes: dict[str, int], own_route: int, store: Path) -> str:
    """The deploy config with loopback ports and a temp store dir; nothing else changes."""
    replacements = [
        (r"^listen: 0\.0\.0\.0:4222$", f"listen: 127.0.0.1:{client}"),
        (r"^http: 0\.0\.0\.0:8222$", f"http: 127.0.0.1:{monitor}"),
        (r'^  store_dir: "/data"$', f'  store_dir: "{store}"'),
        (r"^  listen: 0\.0\.0\.0:6222$", f"  listen: 127.0.0.1:{own_route}"),
        *[(rf"^    \$NATS_ROUTE_{name.upper()}$", f"    $NATS_ROUTE_{name.upper()}") for name in routes],  # from env
    ]
    for pattern, value in replacements:
        text, count = re.subn(pattern, value, text, flags=re.M)
        assert count == 1, f"deploy config changed shape: {pattern!r} matched {count} times"
    return text


def config_password() -> str:
    """A random password that a `$VARIABLE` reference in a nats-server config reads as a string.

    nats-server parses a variable's value like a config literal: `-dTq…` is read as a malformed
    number (the server refuses to start) and `12345` as an integer. A leading letter avoids both
    (docs/operations.md says the same to operators); `token_urlsafe` alone failed CI ~1 run in 20.
    """
    return "p" + secrets.token_urlsafe(16)


def cluster_from_deploy(root: Path) -> Cluster:
    """Write the three rewritten configs under `root`; nothing is started yet."""
    routes = {name: free_port() for name in NAMES}
    credentials = {
        "PARLEY_NATS_USER": "parley", "PARLEY_NATS_PASSWORD": config_password(),
        "PARLEY_NATS_ADMIN_USER": "parley-admin", "PARLEY_NATS_ADMIN_PASSWORD": config_password(),
        "NATS_ROUTE_USER": "route", "NATS_ROUTE_PASSWORD": config_password(),
    }
    nodes: dict[str, Node] = {}
    for name in NAMES:
        directory = root / name
        (directory / "data").mkdir(parents=True)
        client, monitor = free_port(), free_port()
        text = rewrite((DEPLOY / f"{name}.conf").read_text(), client=client, monitor=monitor, routes=routes,
                       own_route=routes[name], store=directory / "data")
        config = directory / f"{name}.conf"
        config.write_text(text)
        nodes[name] = Node(name=name, config=config, client_port=client, monitor_port=monitor,
                           log_path=directory / "nats-server.log")
    route = f"nats-route://{credentials['NATS_ROUTE_USER']}:{credentials['NATS_ROUTE_PASSWORD']}@127.0.0.1:{{port}}"
    urls = {f"NATS_ROUTE_{name.upper()}": route.format(port=port) for name, port in routes.items()}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "NATS_"))}, **credentials, **urls}
    return Cluster(nodes=nodes, env=env, app_user=credentials["PARLEY_NATS_USER"],
                   app_password=credentials["PARLEY_NATS_PASSWORD"], admin_user=credentials["PARLEY_NATS_ADMIN_USER"],
                   admin_password=credentials["PARLEY_NATS_ADMIN_PASSWORD"])
