"""Queue IDs: Postfix's short and long forms, deterministic per run and unique per host."""

from __future__ import annotations

import numpy as np
import pytest

from mailsim.core import Simulation
from mailsim.mail.queueid import (
    hash_directory,
    is_queue_id,
    long_queue_id,
    new_queue_id,
    random_queue_id,
    short_queue_id,
)


def test_short_id_is_microseconds_then_inode_in_hex():
    assert short_queue_id(0x63AB6, 0x20C3AB) == "63AB620C3AB"  # an ID real Postfix 3.7 gave us
    assert short_queue_id(5, 0x20C001) == "0000520C001"
    with pytest.raises(ValueError):
        short_queue_id(1_000_000, 1)


def test_long_id_shape():
    queue_id = long_queue_id(1767603600, 123456, 0x20C001)
    assert len(queue_id.split("z")[0]) == 10 and "z" in queue_id
    assert not set(queue_id) & set("aeiouAEIOU")
    assert is_queue_id(queue_id) and is_queue_id("8AE9820C3AB") and not is_queue_id("hello")


def test_ids_come_from_virtual_time_and_a_run_local_counter():
    def run() -> list[str]:
        sim = Simulation(seed=0)
        ids = [new_queue_id(sim, "mx.example.org")]
        sim.env.run(until=1.5)
        ids += [new_queue_id(sim, "mx.example.org"), new_queue_id(sim, "mx.example.org", long=True)]
        return ids

    first = run()
    assert first == run()
    assert first[1].startswith("7A120")  # 0.5 s after a whole second = 500000 µs = 0x7A120
    assert len(set(first)) == 3 and all(10 <= len(q) <= 12 for q in first[:2])


def test_ids_on_one_host_never_repeat():
    sim = Simulation(seed=0)
    ids = {new_queue_id(sim, "h") for _ in range(5000)}
    assert len(ids) == 5000


def test_random_ids_from_a_named_stream():
    assert random_queue_id(np.random.default_rng(1), 3.25) == random_queue_id(np.random.default_rng(1), 3.25)


def test_hashed_subdirectory():
    assert hash_directory("8AE9820C3AB") == "8/"
    assert hash_directory("8AE9820C3AB", depth=2) == "8/A/"
