"""A witness: a party that co-signs the log's checkpoints, each only after checking it extends the
last one it co-signed (a consistency proof). Once a party has co-signed size N, the operator cannot
show it, or anyone holding its co-signature, a different history up to N.

It talks to the API over HTTP like any client and trusts nothing it receives: the checkpoint must
carry the log key's signature (pinned in the state file on first use) and the proof is verified here.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx

from core.integrity.checkpoint import open_checkpoint
from core.integrity.merkle import ProofError, verify_consistency
from core.integrity.notes import NoteError, SignerKey, VerifierKey


class WitnessError(Exception):
    """The checkpoint could not be fetched, did not verify, or is inconsistent: nothing was co-signed."""


async def witness_once(*, api: str, token: str, key_file: Path, state_file: Path, log_key: str | None,
                       client: httpx.AsyncClient | None = None) -> str:
    """Fetch, check and co-sign the latest checkpoint; returns a one-line report."""
    try:
        key = SignerKey.parse(key_file.read_text())
    except NoteError as err:
        raise WitnessError(f"{key_file}: {err}") from None
    remembered = json.loads(state_file.read_text()) if state_file.exists() else {}
    pinned = remembered.get("log_key") or log_key
    if pinned is None:
        raise WitnessError("the first run needs --log-key (the log's verifier key, from `parley keys show system`)")
    if log_key is not None and remembered.get("log_key") not in (None, log_key):
        raise WitnessError("--log-key differs from the key pinned in the state file; refusing")
    try:
        verifier = VerifierKey.parse(pinned)
    except NoteError as err:
        raise WitnessError(f"log key: {err}") from None
    http = client or httpx.AsyncClient(base_url=api.rstrip("/"), timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = await http.get("/api/v1/audit/checkpoint", headers=headers)
        _check(response, "fetching the checkpoint")
        try:
            signed = open_checkpoint(response.text, verifier)
        except NoteError as err:
            raise WitnessError(f"the checkpoint does not verify: {err}") from None
        size, root = signed.checkpoint.size, signed.checkpoint.root
        old_size = int(remembered.get("size", 0))
        old_root = base64.b64decode(remembered["root"]) if "root" in remembered else None
        if size < old_size:
            raise WitnessError(f"the log went back from size {old_size} to {size}; refusing to co-sign")
        if size == old_size and root == old_root:
            return f"already co-signed {signed.checkpoint.origin} at size {size}; nothing new"
        if old_root is not None and old_size > 0:
            proof = await http.get("/api/v1/audit/proofs/consistency", params={"first": old_size, "second": size}, headers=headers)
            _check(proof, "fetching the consistency proof")
            hashes = [base64.b64decode(h) for h in proof.json()["hashes"]]
            try:
                verify_consistency(old_size, size, hashes, old_root, root)
            except ProofError as err:
                raise WitnessError(f"checkpoint {size} is NOT consistent with the one co-signed at size {old_size}: {err}") from None
        cosigned = signed.cosign(key)
        posted = await http.post("/api/v1/audit/cosignatures", content=cosigned.encode().encode(),
                           headers={**headers, "Content-Type": "text/plain; charset=utf-8"})
        _check(posted, "publishing the co-signature")
    finally:
        if client is None:
            await http.aclose()
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"log_key": pinned, "size": size, "root": base64.b64encode(root).decode(),
                               "note": cosigned.encode()}, indent=1))
    os.replace(tmp, state_file)
    return f"co-signed {signed.checkpoint.origin} at size {size} as {key.name}" + (
        f" (consistent with size {old_size})" if old_size else " (first checkpoint seen)")


def _check(response: httpx.Response, doing: str) -> None:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise WitnessError(f"{doing}: HTTP {response.status_code}: {detail}")
