"""The integrity adapters: key files on disk, the audit stream, the notary and its Merkle tree."""
