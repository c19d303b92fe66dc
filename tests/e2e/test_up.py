"""`parley up` from nothing: embedded nats-server + SQLite, and the README walkthrough as written."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli_process import PARLEY, environment, free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough_script() -> str:
    """The shell block under the README's walkthrough heading, verbatim."""
    text = README.read_text()
    section = text.split("## A five-minute walkthrough", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"parley up exited early: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("parley up did not become healthy")


@pytest.fixture
def parley_up(tmp_path: Path):  # noqa: ANN201
    port = free_port()
    env = environment(PARLEY_HTTP_PORT=str(port))
    process = subprocess.Popen([str(PARLEY), "up"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, tmp_path, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_up_starts_everything_and_the_readme_walkthrough_works(parley_up) -> None:  # noqa: ANN001
    url, home, process = parley_up
    token_file = home / ".parley" / "admin.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    nats_url = (home / ".parley" / "nats.url").read_text().strip()
    ready = httpx.get(f"{url}/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["nats"] == "ok"

    script = walkthrough_script().replace("http://127.0.0.1:8080", url)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=home, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '"status":"counter_account_filed"' in out.replace(" ", "")
    assert '"party":"RUS"' in out.replace(" ", "") and '"party":"USA"' in out.replace(" ", "")
    assert "parley.incident.counter-account-filed.v1" in out
    assert '"status":"acknowledged"' in out.replace(" ", "") and '"ack_late":false' in out.replace(" ", "")
    assert '"type":"https://' not in out.replace(" ", ""), "a walkthrough step returned a problem"

    # Ctrl-C stops the API and the embedded nats-server with it.
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    port = int(nats_url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_up_restarts_on_the_same_home_and_keeps_the_data(parley_up) -> None:  # noqa: ANN001
    url, home, process = parley_up
    admin = {"Authorization": f"Bearer {(home / '.parley' / 'admin.token').read_text().strip()}"}
    assert httpx.post(f"{url}/api/v1/parties", json={"code": "FRA", "name": "France"}, headers=admin).status_code == 201
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    port = int(url.rsplit(":", 1)[1])
    again = subprocess.Popen([str(PARLEY), "up"], cwd=home, env=environment(PARLEY_HTTP_PORT=str(port)),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_healthy(url, again)
        parties = httpx.get(f"{url}/api/v1/parties", params={"min_seq": 1}, headers=admin).json()["items"]
        assert [p["code"] for p in parties] == ["FRA"]
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(timeout=20)


def _nats_port(home: Path) -> int:
    return int((home / ".parley" / "nats.url").read_text().strip().rsplit(":", 1)[1])


def _closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def _kill_leftover_nats(home: Path) -> None:
    """Should the test fail, never leave its nats-server running (its ports file names its pid)."""
    for ports in (home / ".parley" / "nats").glob("nats-server_*.ports"):
        with contextlib.suppress(ValueError, ProcessLookupError):
            os.kill(int(ports.stem.rsplit("_", 1)[1]), signal.SIGKILL)


def test_sigterm_stops_up_and_its_embedded_nats_server(parley_up) -> None:  # noqa: ANN001
    """`kill`, `docker stop` and systemd send SIGTERM: the embedded nats-server must stop too."""
    url, home, process = parley_up
    nats_port = _nats_port(home)
    assert not _closed(nats_port)
    try:
        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=20) == 0
        assert _closed(nats_port), "the embedded nats-server outlived `parley up`"
    finally:
        _kill_leftover_nats(home)


def test_sigterm_while_still_starting_stops_cleanly_too(tmp_path: Path) -> None:
    """SIGTERM during start-up (here: while `--demo` seeds its history, before the API listens)."""
    port = free_port()
    process = subprocess.Popen([str(PARLEY), "up", "--demo"], cwd=tmp_path, env=environment(PARLEY_HTTP_PORT=str(port)),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("Seeding the demo history"):
                break
        else:
            raise AssertionError(f"parley up --demo did not start seeding: {''.join(seen)}")
        nats_port = _nats_port(tmp_path)

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=30) == 0, process.stdout.read()
        assert _closed(nats_port), "the embedded nats-server outlived `parley up`"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        _kill_leftover_nats(tmp_path)
