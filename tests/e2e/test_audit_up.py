"""`parley up` runs the notary: a system key appears, checkpoints get published, and `parley verify`
run beside it (on the same PARLEY_HOME) checks them."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from core.integrity.checkpoint import open_checkpoint
from core.integrity.notes import VerifierKey
from tests.e2e.cli_process import PARLEY, environment, free_port, parley
from tests.e2e.test_up import wait_healthy


def test_up_publishes_signed_checkpoints_that_verify(tmp_path: Path) -> None:
    port = free_port()
    env = environment(PARLEY_HTTP_PORT=str(port), PARLEY_CHECKPOINT_EVERY_SECONDS="0.5", PARLEY_AUDIT_ORIGIN="parley.test/up")
    process = subprocess.Popen([str(PARLEY), "up"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        admin = {"Authorization": f"Bearer {(tmp_path / '.parley' / 'admin.token').read_text().strip()}"}
        assert httpx.post(f"{url}/api/v1/parties", json={"code": "FRA", "name": "France"}, headers=admin).status_code == 201
        deadline, note = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            r = httpx.get(f"{url}/api/v1/audit/checkpoint", headers=admin)
            if r.status_code == 200 and r.text.split("\n")[1] == "2":  # the system key's event and FRA
                note = r.text
                break
            time.sleep(0.3)
        assert note is not None, "no checkpoint of size 2 was published"
        shown = parley("keys", "show", "system", env={**env, "PARLEY_HOME": str(tmp_path / ".parley")})
        assert shown.returncode == 0, shown.stderr
        assert open_checkpoint(note, VerifierKey.parse(shown.stdout.strip())).checkpoint.size == 2
        verified = parley("verify", "--quiet", env={**env, "PARLEY_HOME": str(tmp_path / ".parley")})
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert verified.stdout.strip().endswith(": everything verifies")
        assert "2 events up to sequence 2, 1 signed" in verified.stdout
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=20) == 0
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
