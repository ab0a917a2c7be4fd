"""``mailsim replay``: a real message's Received chain read bottom-up, written as a scenario, and where authentication broke."""

from __future__ import annotations

import io
import mailbox
from pathlib import Path

import pytest

from mailsim.analysis.replay import NoReceivedHeaders, read_replay, report, run_replay_cli
from mailsim.analysis.replay_scenario import write_scenario
from mailsim.scenario.loader import load
from mailsim.scenario.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "tests" / "data" / "replay").glob("*.eml")) + sorted((ROOT / "tests/data/mail").glob("*.eml"))
SEED = ROOT / "tests" / "data" / "mail" / "seed-schweikert-gmail.eml"
REPLAY = ROOT / "tests" / "data" / "replay"


def test_the_seed_message_is_read_from_the_bottom() -> None:
    replay = read_replay(SEED.read_bytes())
    assert [(h.number, h.internal) for h in replay.hops] == [(1, False), (2, True), (3, True), (4, False), (5, False),
                                                             (6, True)]  # fmt: skip
    first, relay = replay.hops[0], replay.hops[4]
    assert (first.sender, first.sender_ip, first.receiver, first.authenticated) == (
        "198-51-100-23.dclient.hispeed.ch", "198.51.100.23", "mail.schweikert.ch", True)  # fmt: skip
    assert (relay.sender, relay.sender_ip, relay.receiver, relay.recipient) == (
        "mail-relay.atrust.com", "203.0.113.40", "mx.google.com", "evi.nemeth@gmail.com")  # fmt: skip
    assert {(f.hop, f.method, f.result) for f in replay.findings} == {(5, "spf", "softfail")}


def test_the_report_says_spf_judged_the_relay_against_the_senders_record() -> None:
    lines = read_replay(SEED.read_bytes()).explain()
    assert (
        lines[0]
        == "hop 4: mail-relay.atrust.com received it for <evi@atrust.com> and forwarded it to <evi.nemeth@gmail.com>."
    )
    assert lines[1].startswith("hop 5: SPF softfail at mx.google.com: it checked mail-relay.atrust.com [203.0.113.40]"
                               " against the SPF record of schweikert.ch. The message had been relayed")  # fmt: skip
    assert "SPF does not work for relayed mail" in lines[1]


def test_the_written_scenario_reproduces_the_path(tmp_path: Path) -> None:
    folder = write_scenario(read_replay(SEED.read_bytes()), tmp_path / "replay", source=SEED.name)
    assert "evi: evi.nemeth@gmail.com" in (folder / "hosts/mail-relay.atrust.com/aliases").read_text()
    assert '"v=spf1 mx ~all"' in (folder / "zones/schweikert.ch.zone").read_text()
    assert (folder / "hosts/mail.schweikert.ch/clamav-milter.conf").is_file()  # the amavisd-new hop
    result = run_scenario(load(folder))
    (policy,) = [r for r in result.world.sim.trace if r.event == "policy"]
    assert (policy.host, policy.get("client"), policy.get("spf")) == ("mx.google.com", "203.0.113.40", "softfail")
    delivered = [r for r in result.world.sim.trace if r.event == "delivery" and r.host == "mx.google.com"]
    assert [(d.get("to"), d.get("status")) for d in delivered] == [("evi.nemeth@gmail.com", "sent")]


def test_dkim_broken_by_an_edit_is_placed_between_two_hops() -> None:
    replay = read_replay((REPLAY / "forwarded-dkim-footer-arc.eml").read_bytes())
    broke = [line for line in replay.explain() if line.startswith("DKIM broke")]
    assert broke == ["DKIM broke between hop 2 (pass at lists.example.org) and hop 3 (fail at mx.google.com: "
                     "header.i=@example.com header.s=s2026 header.b=AbCdEf12): a host in between edited the message."]  # fmt: skip
    assert any(line.startswith("hop 3: ARC pass at mx.google.com") for line in replay.explain())


def test_an_srs_sender_passes_spf_for_the_forwarder_not_the_author() -> None:
    replay = read_replay((REPLAY / "srs-forwarded.eml").read_bytes())
    (spf,) = [line for line in replay.explain() if "SPF pass" in line]
    assert "against the SPF record of forward.example.com" in spf and "(SRS)" in spf and "example.net" in spf


def test_a_message_without_received_headers_is_a_clear_message(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_replay_cli([str(REPLAY / "no-received.eml"), "--out", str(tmp_path / "x")], out, err)
    assert code == 1 and out.getvalue() == "" and not (tmp_path / "x").exists()
    assert err.getvalue().startswith("mailsim replay: ") and "no Received headers" in err.getvalue()
    with pytest.raises(NoReceivedHeaders):
        read_replay((REPLAY / "no-received.eml").read_bytes())
    assert run_replay_cli([str(tmp_path / "missing.eml")], out, err) == 2


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_corpus_message_replays_without_a_traceback(path: Path, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_replay_cli([str(path), "--out", str(tmp_path / "scenario")], out, err)
    assert code in (0, 1) and "Traceback" not in out.getvalue() + err.getvalue()
    if code == 0:
        assert out.getvalue().startswith("Received chain, read from the bottom")
        load(tmp_path / "scenario")  # what replay writes is a valid scenario


def test_a_simulated_message_replays_back_to_its_own_story(tmp_path: Path) -> None:
    from mailsim.analysis.auth_outcomes import run_variant, seed_scenario

    result = run_variant(seed_scenario(), "arc", workdir=tmp_path)
    box = mailbox.mbox(str(result.world.files / "hosts/mx.gmail.example/var/mail/evi.nemeth"))
    replay = read_replay(box.get_bytes(box.keys()[0]))
    text = report(replay)
    assert "hop 4: SPF fail at mx.gmail.example: it checked mail-relay.atrust.com [203.0.113.40]" in text
    assert "DKIM broke between hop 2 (pass at mail-relay.atrust.com) and hop 4 (fail at mx.gmail.example" in text
