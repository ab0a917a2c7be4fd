"""master.cf maxproc for smtpd: busy processes leave new connections in the listen queue, served in order."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from mailsim import api
from mailsim.config.mastercf_default import DEFAULT_MASTER_CF
from mailsim.core.servers import Occupancy
from mailsim.mta.process_limit import ProcessLimit
from mailsim.scenario.loader import load

ROOT = Path(__file__).resolve().parents[2]
SMTPD_LINE = "smtp      inet  n       -       y       -       -       smtpd"


def _mx_with_maxproc(tmp_path: Path, maxproc: int, clients: int) -> Any:
    folder = tmp_path / "scenario"
    shutil.copytree(ROOT / "scenarios" / "capacity-cpu", folder)
    assert SMTPD_LINE in DEFAULT_MASTER_CF
    master = DEFAULT_MASTER_CF.replace(SMTPD_LINE, SMTPD_LINE.replace("-       smtpd", f"{maxproc:<8}smtpd"))
    (folder / "hosts/mx/master.cf").write_text(master)

    def edit(data: dict[str, Any]) -> None:
        data["until"] = "60s"
        data["workload"] = []
        data["hosts"][1]["hardware"] = {"cores": 1, "sample": "1s", "fsync": "0s"}
        data["messages"] = [
            {"at": "1s", "from": f"s{i}@example.org", "to": [f"r{i}@example.net"], "via": "smtp",
             "client": "src.example.org", "server": "mx.example.net"}
            for i in range(clients)
        ]  # fmt: skip

    return load(folder, edit=edit)


@pytest.mark.parametrize("fidelity", ["wire", "fast"])
def test_two_smtpd_processes_serve_five_clients_two_at_a_time(tmp_path: Path, fidelity: str) -> None:
    result = api.run(_mx_with_maxproc(tmp_path, 2, 5), fidelity=fidelity)
    trace = result.trace
    greeted = sorted(r.time for r in trace.select("connect", host="mx.example.net", service="smtpd"))
    left = sorted(r.time for r in trace.select("disconnect", host="mx.example.net", service="smtpd"))
    accepted = [r.time for r in trace.select("accept", host="mx.example.net")]
    assert len(accepted) == 5 and max(accepted) < 1.1  # the kernel completes every handshake at once
    assert len(greeted) == 5 and greeted[1] < left[0] <= greeted[2]  # exactly two at once, the rest later
    for moment in greeted:  # never more than two sessions in progress
        assert sum(1 for g, d in zip(greeted, left, strict=True) if g <= moment < d) <= 2
    messages = result.frame("messages")
    assert len(messages) == 5 and set(messages.status) == {"sent"}  # none lost
    smtpd = result.frame("utilisation").query("resource == 'smtpd:smtp'")
    assert (smtpd.capacity == 2).all() and smtpd.wait.max() > 0  # three clients waited for a process
    sessions = sum(d - g for g, d in zip(greeted, left, strict=True))  # a process is busy for a whole session
    assert smtpd.busy.sum() == pytest.approx(sessions, abs=0.005)  # (plus its client-name lookups)


def test_without_a_limit_all_clients_are_greeted_at_once(tmp_path: Path) -> None:
    result = api.run(_mx_with_maxproc(tmp_path, 0, 5), fidelity="fast")  # maxproc 0: no limit
    greeted = [r.time for r in result.trace.select("connect", host="mx.example.net", service="smtpd")]
    left = [r.time for r in result.trace.select("disconnect", host="mx.example.net", service="smtpd")]
    assert len(greeted) == 5 and max(greeted) < min(left)


def test_a_client_that_gives_up_in_the_listen_queue_leaves_the_line() -> None:
    async def scenario() -> list[str]:
        limit = ProcessLimit(1, Occupancy(1))
        first, second, third = {}, {}, {}  # session states
        await limit.enter(first, 0.0)
        waiting = [asyncio.ensure_future(limit.enter(s, 0.0)) for s in (second, third)]
        await asyncio.sleep(0)
        limit.leave(second, 1.0)  # the second client's greeting timeout: it hangs up while waiting
        limit.leave(first, 2.0)  # the process frees: the third client is next, the second is gone
        await asyncio.sleep(0)
        return [str(task.cancelled()) for task in waiting] + [str(limit.occupancy.busy), str(len(limit.waiting))]

    assert asyncio.run(scenario()) == ["True", "False", "1", "0"]
