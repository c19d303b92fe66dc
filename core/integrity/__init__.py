"""Integrity of the log: Merkle tree and proofs, signed checkpoints, event signatures, keys, verification.

Pure code (no I/O): the notary, `parley verify` and `parley verify-bundle` all build on it, so an
auditor's offline check and the server's run the same functions.
"""
