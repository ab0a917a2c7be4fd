"""in_flow_delay: when mail arrives faster than qmgr takes it from incoming, cleanup's clients pause."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mailsim import api
from mailsim.config.mastercf_default import DEFAULT_MASTER_CF
from mailsim.mta.mail_flow import MailFlow
from mailsim.scenario.loader import load

ROOT = Path(__file__).resolve().parents[2]
MX_MAIN = """
compatibility_level = 3.6
myhostname = mx.example.net
mydomain = example.net
mydestination = $myhostname, localhost, $mydomain
local_transport = discard
local_recipient_maps =
qmgr_message_active_limit = 1
default_process_limit = 2
in_flow_delay = {delay}
"""


def _slow_mx(tmp_path: Path, delay: str, fidelity: str) -> api.Result:
    """One message in the active queue at a time, each held 2 s; two tokens; ten sessions 0.1 s apart."""
    folder = tmp_path / f"scenario-{delay}-{fidelity}"
    shutil.copytree(ROOT / "scenarios" / "capacity-cpu", folder)
    (folder / "hosts/mx/main.cf").write_text(MX_MAIN.format(delay=delay))
    master = DEFAULT_MASTER_CF.replace("smtp      inet  n       -       y       -       -",
                                       "smtp      inet  n       -       y       -       50")  # fmt: skip
    (folder / "hosts/mx/master.cf").write_text(master)

    def edit(data: dict[str, Any]) -> None:
        data["until"] = "40s"
        data["workload"] = []
        del data["hosts"][1]["hardware"]
        data["hosts"][1]["service_time"] = {"discard": "fixed(2s)"}
        data["messages"] = [
            {"at": f"{1 + i / 10}s", "from": f"s{i}@example.org", "to": [f"r{i}@example.net"], "via": "smtp",
             "client": "src.example.org", "server": "mx.example.net"}
            for i in range(10)
        ]  # fmt: skip

    return api.run(load(folder, edit=edit), fidelity=fidelity)


def _opening_delays(result: api.Result) -> list[float]:
    """Per session, connect to the queue file opened at the first RCPT (the ``client`` record)."""
    connects = [r.time for r in result.trace.select("connect", host="mx.example.net", service="smtpd")]
    opened = [r.time for r in result.trace.select("client", host="mx.example.net", service="smtpd")]
    return [b - a for a, b in zip(sorted(connects), sorted(opened), strict=True)]


@pytest.mark.parametrize("fidelity", ["wire", "fast"])
def test_sessions_pause_once_the_tokens_run_out(tmp_path: Path, fidelity: str) -> None:
    paused, free = _slow_mx(tmp_path, "1s", fidelity), _slow_mx(tmp_path, "0", fidelity)
    normal = _opening_delays(free)
    assert max(normal) < 0.1  # in_flow_delay = 0: nobody waits
    extra = [p - n for p, n in zip(_opening_delays(paused), normal, strict=True)]
    assert extra[:3] == pytest.approx([0, 0, 0], abs=1e-9)  # one token refilled by qmgr's first feed, two left
    assert extra[3:] == pytest.approx([1.0] * 7)  # then every new queue file waits the whole in_flow_delay
    assert len(paused.frame("messages").query("status == 'sent'")) == 10  # slowed down, never refused


def test_qmgr_gives_a_token_per_message_it_takes_and_tops_up_when_idle() -> None:
    class Main:
        def time(self, name: str) -> float:
            return 1.0

        def int(self, name: str) -> int:
            return 3

    flow = MailFlow(Main())
    assert [flow.take() for _ in range(4)] == [True, True, True, False]
    flow.after_feed(1, incoming_idle=False)
    assert flow.tokens == 1
    flow.after_feed(0, incoming_idle=True)
    assert flow.tokens == 3
    flow.give_back()
    flow.after_feed(0, incoming_idle=False)
    assert flow.tokens == 3  # never more than default_process_limit
