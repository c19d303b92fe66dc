"""Audit: the latest signed checkpoint, inclusion and consistency proofs, witness co-signatures.

Proofs are computed from the stream's own Merkle tree (`adapters.integrity.log_tree`), built in
this process on first use, never from the read models. Hashes in JSON are base64, like the root
line of a checkpoint.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from adapters.http.auth import requires
from adapters.integrity.audit_stream import AuditLog, AuditSpec
from adapters.integrity.log_tree import LogTree
from core.errors import Invalid, NotFound
from core.identity import Principal, Role, check_id
from core.integrity import keys as k
from core.integrity.checkpoint import parse_checkpoint
from core.integrity.merkle import ProofError
from core.integrity.notes import NoteError

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
readers = requires(Role.AUDITOR, Role.ADMIN, Role.OFFICER, Role.OBSERVER)
NOTE_TYPE = "text/plain; charset=utf-8"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _tree(request: Request) -> LogTree:
    state = request.app.state
    tree = getattr(state, "audit_tree", None)
    if tree is None:
        tree = state.audit_tree = LogTree(state.runtime.store)
    return tree


def _audit(request: Request) -> AuditLog:
    state = request.app.state
    audit = getattr(state, "audit_log", None)
    if audit is None:
        runtime = state.runtime
        audit = state.audit_log = AuditLog(runtime.nc, AuditSpec.beside(runtime.store.spec))
    return audit


async def _latest(request: Request) -> str:
    audit = _audit(request)
    note = await audit.latest_checkpoint() if await audit.exists() else None
    if note is None:
        raise NotFound("no checkpoint has been published yet (is the notary running?)")
    return note


@router.get("/checkpoint", summary="The latest signed checkpoint (C2SP tlog-checkpoint signed note)",
            response_class=PlainTextResponse)
async def latest_checkpoint(request: Request, _: Principal = Depends(readers)) -> PlainTextResponse:
    return PlainTextResponse(await _latest(request), media_type=NOTE_TYPE)


@router.get("/proofs/inclusion", summary="Inclusion proof of the event at a stream sequence")
async def inclusion(
    request: Request,
    seq: int = Query(..., ge=1, description="Stream sequence of the event"),
    size: int | None = Query(default=None, ge=1, description="Tree size; default: the latest checkpoint's"),
    _: Principal = Depends(readers),
) -> JSONResponse:
    checkpoint = None
    if size is None:
        checkpoint = await _latest(request)
        size = parse_checkpoint(checkpoint).checkpoint.size
    if seq > size:
        raise Invalid(f"sequence {seq} is not covered by a tree of size {size}")
    tree = _tree(request)
    if await tree.catch_up(until=size) < size:
        raise NotFound(f"the stream holds fewer than {size} events")
    body: dict[str, Any] = {
        "seq": seq, "leaf_index": seq - 1, "tree_size": size,
        "leaf_hash": _b64(tree.tree.leaf(seq - 1)), "root": _b64(tree.tree.root(size)),
        "hashes": [_b64(h) for h in tree.tree.inclusion_proof(seq - 1, size)],
    }
    if checkpoint is not None:
        body["checkpoint"] = checkpoint
    return JSONResponse(body)


@router.get("/proofs/consistency", summary="Consistency proof between two tree sizes")
async def consistency(
    request: Request,
    first: int = Query(..., ge=0), second: int = Query(..., ge=0),
    _: Principal = Depends(readers),
) -> JSONResponse:
    if first > second:
        raise Invalid(f"the first size ({first}) must not exceed the second ({second})")
    tree = _tree(request)
    if await tree.catch_up(until=second) < second:
        raise NotFound(f"the stream holds fewer than {second} events")
    try:
        hashes = tree.tree.consistency_proof(first, second)
    except ProofError as err:
        raise Invalid(str(err)) from None
    return JSONResponse({
        "first": first, "second": second, "first_root": _b64(tree.tree.root(first)),
        "second_root": _b64(tree.tree.root(second)), "hashes": [_b64(h) for h in hashes],
    })


@router.post("/cosignatures", status_code=201, summary="Publish a checkpoint co-signed by your party's key (a witness)")
async def cosign(
    request: Request,
    note: str = Body(..., media_type="text/plain", description="The checkpoint note with your signature line added"),
    who: Principal = Depends(requires(Role.OFFICER)),
) -> JSONResponse:
    holder = who.acting_party()
    app = request.app.state.runtime.app
    try:
        signed = parse_checkpoint(note)
    except NoteError as err:
        raise Invalid(f"not a signed checkpoint: {err}") from None
    system = (await app.handler.load(k.DECIDER, k.SYSTEM_HOLDER, fresh=True)).state
    party = (await app.handler.load(k.DECIDER, holder, fresh=True)).state
    if system is None or not signed.signers([system.keys[i] for i in system.active]):
        raise Invalid("the checkpoint is not signed by the log's system key")
    if party is None or not signed.signers([party.keys[i] for i in party.active]):
        raise Invalid(f"the checkpoint carries no valid signature by a published key of {holder}")
    size = signed.checkpoint.size
    tree = _tree(request)
    if await tree.catch_up(until=size) < size or tree.tree.root(size) != signed.checkpoint.root:
        raise Invalid(f"the checkpoint of size {size} does not match this log")
    seq = await _audit(request).publish_cosigned(holder, signed.encode())
    return JSONResponse({"holder": holder, "size": size, "audit_seq": seq}, status_code=201)


@router.get("/evidence/{incident_id}", summary="Evidence bundle of an incident (zip; check it with `parley verify-bundle`)",
            response_class=Response, responses={200: {"content": {"application/zip": {}}}})
async def evidence(request: Request, incident_id: str, _: Principal = Depends(requires(Role.AUDITOR, Role.ADMIN))) -> Response:
    from adapters.integrity.evidence import build_evidence, to_zip
    from adapters.integrity.keystore import KeyDirectory
    from adapters.integrity.settings import AuditSettings

    runtime = request.app.state.runtime
    settings = AuditSettings()
    key = KeyDirectory(settings.keys_path(runtime.settings)).active(k.SYSTEM_HOLDER)
    if key is None:
        raise NotFound("this server holds no system key, so it cannot sign an evidence bundle")
    files = await build_evidence(store=runtime.store, audit=_audit(request), key=key, origin=settings.origin(runtime.settings),
                                 incident_id=check_id(incident_id, what="incident id"), now=runtime.app.clock.now())
    return Response(to_zip(files), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="evidence-{incident_id}.zip"'})


@router.get("/checkpoints", summary="Every published checkpoint and witness co-signature, in publication order")
async def all_checkpoints(request: Request, _: Principal = Depends(readers)) -> JSONResponse:
    audit = _audit(request)
    items = []
    for message in await audit.all():
        cosigned = message.subject != audit.spec.checkpoint_subject
        items.append({
            "audit_seq": message.seq, "kind": "cosigned" if cosigned else "checkpoint",
            "holder": message.subject.rsplit(".", 1)[-1] if cosigned else k.SYSTEM_HOLDER,
            "note": message.data.decode("utf-8", errors="replace"),
        })
    return JSONResponse({"items": items})
