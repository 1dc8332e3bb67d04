"""Message and chat ids: unique per process, and per forked process too."""

from __future__ import annotations

import os

from slychat.domain.ids import new_id


def _process_part(message_id: str) -> str:
    return message_id[8:18]


def test_ids_of_one_process_share_its_part_and_differ() -> None:
    ids = [new_id() for _ in range(1_000)]
    assert len(set(ids)) == len(ids)
    assert {_process_part(i) for i in ids} == {_process_part(ids[0])}


def test_a_forked_child_makes_ids_of_its_own() -> None:
    """A child forked after the import (a pre-forking launcher, a preloading server) would
    otherwise repeat its parent's ids from the same counter."""
    before = new_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id to the parent, then out without pytest's cleanup
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    after = new_id()
    assert len(child) == 24
    assert _process_part(child) != _process_part(before)
    assert _process_part(after) == _process_part(before)
