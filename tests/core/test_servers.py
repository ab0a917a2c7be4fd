"""The FIFO c-server model of CPU cores and disks, against schedules worked out by hand."""

from __future__ import annotations

import pytest

from mailsim.core.servers import FifoServers, Occupancy


def test_one_server_queues_jobs_in_arrival_order() -> None:
    disk = FifoServers(1)
    # job 1 at 0 for 2 s: 0-2; job 2 at 1 waits to 2: 2-5; job 3 at 10 finds it idle: 10-11
    assert [disk.charge(0.0, 2.0), disk.charge(1.0, 3.0), disk.charge(10.0, 1.0)] == [2.0, 5.0, 11.0]


def test_two_servers_take_the_one_that_frees_first() -> None:
    cpu = FifoServers(2)
    # at 0: A (4 s) and B (1 s) start at once on the two cores; C at 0.5 waits for B's core (free at 1): 1-3;
    # D at 0.5 waits for the next free core, C's at 3 (A's frees at 4): 3-5.
    ends = [cpu.charge(0.0, 4.0), cpu.charge(0.0, 1.0), cpu.charge(0.5, 2.0), cpu.charge(0.5, 2.0)]
    assert ends == [4.0, 1.0, 3.0, 5.0]
    assert cpu.next_free() == 4.0


def test_a_sample_counts_busy_time_inside_the_interval_only() -> None:
    cpu = FifoServers(2)
    cpu.charge(0.0, 4.0)  # 0-4
    cpu.charge(0.0, 1.0)  # 0-1
    cpu.charge(0.5, 2.0)  # waits 0.5: 1-3
    first = cpu.sample(2.0)  # busy in (0, 2]: 2 + 1 + 1 = 4 server-seconds
    assert (first.busy, first.jobs, first.wait) == (pytest.approx(4.0), 3, pytest.approx(0.5))
    second = cpu.sample(10.0)  # the rest: 2 (of 0-4) + 1 (of 1-3)
    assert (second.busy, second.jobs, second.wait) == (pytest.approx(3.0), 0, 0.0)


def test_a_job_charged_to_arrive_later_keeps_its_place() -> None:
    disk = FifoServers(1)
    assert disk.charge(5.0, 1.0) == 6.0  # charged first, arrives at 5
    assert disk.charge(1.0, 1.0) == 7.0  # charged second: served after it, in charge order


def test_zero_servers_is_refused() -> None:
    with pytest.raises(ValueError):
        FifoServers(0)


def test_occupancy_integrates_busy_processes() -> None:
    slots = Occupancy(2)
    slots.change(1.0, +1)
    slots.change(2.0, +1, wait=0.5)
    slots.change(4.0, -1)
    sample = slots.sample(6.0)  # 1 busy over 1-2, 2 over 2-4, 1 over 4-6: 1 + 4 + 2
    assert (sample.busy, sample.jobs, sample.wait) == (7.0, 2, 0.5)
    assert slots.sample(8.0).busy == 2.0
