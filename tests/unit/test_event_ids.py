"""Event ids: UUIDv7 strings (RFC 9562) from pooled randomness, never repeated, not even across a fork."""

from __future__ import annotations

import os
import time
import uuid

from core.event_ids import new_event_id


def test_an_event_id_is_a_canonical_uuid_version_7_of_the_current_millisecond():
    before = time.time_ns() // 1_000_000
    text = new_event_id()
    after = time.time_ns() // 1_000_000

    parsed = uuid.UUID(text)
    assert str(parsed) == text  # canonical lowercase 8-4-4-4-12
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after


def test_ids_do_not_repeat_and_sort_by_millisecond_across_many_pool_refills():
    ids = [new_event_id() for _ in range(20_000)]  # ~50 draws of the 4 KiB pool

    assert len(set(ids)) == len(ids)
    millis = [uuid.UUID(i).int >> 80 for i in ids]
    assert millis == sorted(millis)
    random_bits = {uuid.UUID(i).int & ((1 << 62) - 1) for i in ids}
    assert len(random_bits) == len(ids)


def test_a_forked_child_does_not_reuse_its_parents_random_bytes():
    new_event_id()  # the parent's pool now holds unused bytes a child would inherit
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, "".join(new_event_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_ids = pipe.read()
    os.waitpid(child, 0)
    parent_ids = [new_event_id() for _ in range(50)]

    child_random = {int(child_ids[k:k + 36].replace("-", ""), 16) & ((1 << 62) - 1) for k in range(0, len(child_ids), 36)}
    parent_random = {uuid.UUID(i).int & ((1 << 62) - 1) for i in parent_ids}
    assert len(child_random) == 50
    assert not child_random & parent_random
