"""RFC 6962 Merkle tree and proofs against the published test vectors, plus properties for all sizes.

Vectors: the leaves, roots and proofs of RFC 6962's reference implementation as used by
transparency-dev/merkle (proof/verify_test.go) and certificate-transparency-go.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.integrity.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    event_leaf,
    leaf_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [h(""), h("00"), h("10"), h("2021"), h("3031"), h("40414243"), h("5051525354555657"),
          h("606162636465666768696a6b6c6d6e6f")]
ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
# (1-based leaf, tree size, proof)
INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
# (size1, size2, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def tree() -> MerkleTree:
    t = MerkleTree()
    for data in LEAVES:
        t.append(data)
    return t


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert MerkleTree().root() == EMPTY_ROOT == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_vectors(size: int) -> None:
    assert tree().root(size) == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_and_verify(leaf: int, size: int, proof: list[str]) -> None:
    expected = [h(p) for p in proof]
    assert tree().inclusion_proof(leaf - 1, size) == expected
    verify_inclusion(leaf - 1, size, leaf_hash(LEAVES[leaf - 1]), expected, ROOTS[size - 1])


@pytest.mark.parametrize(("leaf", "size", "proof"), [v for v in INCLUSION if v[2]])
def test_corrupted_inclusion_proofs_fail(leaf: int, size: int, proof: list[str]) -> None:
    good = [h(p) for p in proof]
    index, root, lh = leaf - 1, ROOTS[size - 1], leaf_hash(LEAVES[leaf - 1])
    probes = [
        (index - 1, size, root, lh, good), (index + 1, size, root, lh, good), (index ^ 2, size, root, lh, good),
        (index, size * 2, root, lh, good), (index, size // 2, root, lh, good),
        (index, size, root, leaf_hash(b"WrongLeaf"), good), (index, size, EMPTY_ROOT, lh, good),
        (index, size, SOME_HASH, lh, good), (index, size, root, lh, good + [b""]), (index, size, root, lh, good + [root]),
        (index, size, root, lh, [b""] + good), (index, size, root, lh, [root] + good), (index, size, root, lh, good[:-1]),
    ]
    for i in range(len(good)):
        flipped = list(good)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, root, lh, flipped))
    for probe_index, probe_size, probe_root, probe_leaf, probe_proof in probes:
        with pytest.raises(ProofError):
            verify_inclusion(probe_index, probe_size, probe_leaf, probe_proof, probe_root)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_proofs_match_and_verify(first: int, second: int, proof: list[str]) -> None:
    expected = [h(p) for p in proof]
    assert tree().consistency_proof(first, second) == expected
    verify_consistency(first, second, expected, ROOTS[first - 1], ROOTS[second - 1])


@pytest.mark.parametrize(("first", "second", "proof"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_proofs_fail(first: int, second: int, proof: list[str]) -> None:
    good = [h(p) for p in proof]
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    probes = [
        (first - 1, second, r1, r2, good), (first + 1, second, r1, r2, good), (first ^ 2, second, r1, r2, good),
        (first, second * 2, r1, r2, good), (first, second // 2, r1, r2, good),
        (first, second, SOME_HASH, r2, good), (first, second, r1, SOME_HASH, good), (first, second, r2, r1, good),
        (first, second, r1, r2, []), (first, second, r1, r2, good + [b""]), (first, second, r1, r2, good + [r1]),
        (first, second, r1, r2, good + [r2]), (first, second, r1, r2, [b""] + good), (first, second, r1, r2, [r1] + good),
        (first, second, r1, r2, [r2] + good), (first, second, r1, r2, [good[0]] + good), (first, second, r1, r2, good[:-1]),
    ]
    for i in range(len(good)):
        flipped = list(good)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((first, second, r1, r2, flipped))
    for s1, s2, a, b, p in probes:
        if s1 == s2 == first and a == b:
            continue
        with pytest.raises(ProofError):
            verify_consistency(s1, s2, p, a, b)


def test_trivial_consistency_cases() -> None:
    verify_consistency(0, 0, [], SOME_HASH, SOME_HASH)
    verify_consistency(0, 5, [], SOME_HASH, EMPTY_ROOT)
    verify_consistency(3, 3, [], SOME_HASH, SOME_HASH)
    with pytest.raises(ProofError):
        verify_consistency(3, 3, [], SOME_HASH, EMPTY_ROOT)
    with pytest.raises(ProofError):
        verify_consistency(2, 1, [], SOME_HASH, SOME_HASH)
    with pytest.raises(ProofError):
        verify_consistency(1, 1, [EMPTY_ROOT], SOME_HASH, SOME_HASH)


def test_inclusion_of_single_leaf_tree() -> None:
    single = leaf_hash(b"data")
    verify_inclusion(0, 1, single, [], single)
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, single, [], b"")
    with pytest.raises(ProofError):
        verify_inclusion(1, 1, single, [], single)


def _naive_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 §2.1, as an independent oracle."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _naive_root(leaves[:k]) + _naive_root(leaves[k:])).digest()


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=1, max_value=300), data=st.data())
def test_every_proof_of_random_trees_verifies(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    t = MerkleTree(leaves)
    assert t.root() == _naive_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = t.inclusion_proof(index)
    assert root_from_inclusion_proof(index, size, leaves[index], proof) == t.root()
    other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index)) if size > 1 else None
    if other is not None:
        with pytest.raises(ProofError):
            verify_inclusion(other, size, leaves[index], proof, t.root())
    first = data.draw(st.integers(min_value=0, max_value=size))
    consistency = t.consistency_proof(first)
    verify_consistency(first, size, consistency, t.root(first), t.root())
    assert t.root(first) == _naive_root(leaves[:first])
    if 0 < first < size:
        tampered = MerkleTree(leaves[:first - 1] + [leaf_hash(b"changed")] + leaves[first:])
        with pytest.raises(ProofError):
            verify_consistency(first, size, consistency, tampered.root(first), t.root())


def test_event_leaf_binds_the_sequence() -> None:
    digest = "ab" * 32
    assert event_leaf(1, digest) == (1).to_bytes(8, "big") + bytes.fromhex(digest)
    assert leaf_hash(event_leaf(1, digest)) != leaf_hash(event_leaf(2, digest))
    with pytest.raises(ValueError):
        event_leaf(0, digest)
    with pytest.raises(ValueError):
        event_leaf(1, "abcd")
