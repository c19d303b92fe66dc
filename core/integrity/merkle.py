"""RFC 6962 / RFC 9162 Merkle tree over the event stream, with inclusion and consistency proofs.

Why a Merkle tree: a signed tree head (checkpoint) commits to every event up to its size; an
inclusion proof shows one event is in it with log(n) hashes, and a consistency proof shows a later
tree extends an earlier one (nothing before it was changed, dropped or reordered).

Leaf encoding (the one Parley-specific choice; everything else is RFC 6962 §2.1):

    leaf data  = uint64 big-endian stream sequence (8 bytes) || the event's `hash` (32 raw bytes)
    leaf hash  = SHA-256(0x00 || leaf data)
    node hash  = SHA-256(0x01 || left || right)
    leaf index = stream sequence - 1  (the stream has no gaps, so tree size = last sequence)

Binding the sequence into the leaf means an event moved to another position changes the root even
when the hashes of all events are unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not verify, or asks about sizes/indices that cannot exist."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def event_leaf(seq: int, event_hash_hex: str) -> bytes:
    """The leaf data of the event stored at `seq` (see the module docstring)."""
    if seq < 1:
        raise ValueError(f"stream sequences start at 1, not {seq}")
    digest = bytes.fromhex(event_hash_hex)
    if len(digest) != HASH_SIZE:
        raise ValueError(f"an event hash is 32 bytes, this one {len(digest)}")
    return seq.to_bytes(8, "big") + digest


def event_leaf_hash(seq: int, event_hash_hex: str) -> bytes:
    return leaf_hash(event_leaf(seq, event_hash_hex))


def _split(n: int) -> int:
    """The largest power of two smaller than `n` (n > 1): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree of leaf hashes that answers any root or proof for sizes up to its own.

    It keeps every complete subtree hash (level k holds the hashes of aligned 2^k-leaf ranges),
    so a root or proof costs O(log² n) hashes rather than re-hashing all leaves; memory is about
    2 × 32 bytes per leaf.
    """

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append_hash(leaf)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append_hash(self, leaf: bytes) -> None:
        """Add one leaf *hash* (already `leaf_hash`ed)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        self._levels[0].append(leaf)
        index, level = len(self._levels[0]) - 1, 0
        while index % 2 == 1:
            below = self._levels[level]
            if len(self._levels) == level + 1:
                self._levels.append([])
            self._levels[level + 1].append(node_hash(below[index - 1], below[index]))
            index //= 2
            level += 1

    def append(self, data: bytes) -> None:
        self.append_hash(leaf_hash(data))

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def _range(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges RFC 6962's recursion visits."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            return self._levels[level][start >> level]
        k = _split(n)
        return node_hash(self._range(start, start + k), self._range(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """The tree head of the first `size` leaves (default: all of them)."""
        size = self.size if size is None else size
        self._check_size(size)
        return self._range(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of size {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if index < k:
            return self._path(index, start, start + k) + [self._range(start + k, end)]
        return self._path(index - k, start + k, end) + [self._range(start, start + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 6962 §2.1.2 (empty when first is 0 or equal)."""
        second = self.size if second is None else second
        self._check_size(second)
        if not 0 <= first <= second:
            raise ProofError(f"no consistency proof from size {first} to size {second}")
        if first == 0 or first == second:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self._range(start, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, start + k, complete) + [self._range(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self._range(start, start + k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ProofError(f"the tree has {self.size} leaves, not {size}")


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    return MerkleTree(leaf_hashes).root()


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2); raises `ProofError` on bad shapes."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError("the leaf hash is not 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE:
            raise ProofError("a proof hash is not 32 bytes")
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise `ProofError` unless `leaf` is at `index` of the tree of `size` leaves with `root`."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with that root")


def verify_consistency(first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes) -> None:
    """Raise `ProofError` unless the tree (second, second_root) extends (first, first_root)
    (RFC 9162 §2.1.4.2)."""
    if not 0 <= first <= second:
        raise ProofError(f"a tree of size {second} cannot extend one of size {first}")
    if first == second:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if first_root != second_root:
            raise ProofError(f"two different roots for the same size {first}")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("a proof hash is not 32 bytes")
    path = list(proof)
    if first & (first - 1) == 0:  # first is an exact power of two: its root is the first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != first_root:
        raise ProofError(f"the proof does not lead to the root of size {first}")
    if sr != second_root:
        raise ProofError(f"the proof does not lead to the root of size {second}")
