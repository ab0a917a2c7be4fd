"""postcat -q over a host's queue, and its -e/-h/-b selections as Postfix 3.7 prints them."""

from __future__ import annotations

from mailsim.mail.postcat import render_postcat
from mailsim.mta.admin import run_postcat
from tests.mta.admin_worlds import dead_mx


def test_postcat_q_shows_the_whole_queue_file(tmp_path):
    world, host = dead_mx(tmp_path)
    qf = next(iter(host.queue))
    out = run_postcat(host, ["-q", qf.queue_id])
    assert out.as_tuple() == (0, render_postcat(qf, epoch=world.sim.epoch), "")
    lines = out.stdout.splitlines()
    assert lines[0] == f"*** ENVELOPE RECORDS deferred/{qf.queue_id[0]}/{qf.queue_id} ***"
    assert "message_arrival_time: Mon Jan  5 09:00:10 2026" in lines


def test_header_body_and_envelope_selections(tmp_path):
    world, host = dead_mx(tmp_path)
    qf = next(iter(host.queue))
    head, _, body = qf.content.decode().partition("\r\n\r\n")
    assert run_postcat(host, ["-hq", qf.queue_id]).stdout == head.replace("\r\n", "\n") + "\n"
    assert run_postcat(host, ["-bq", qf.queue_id]).stdout == "\n" + body.replace("\r\n", "\n")
    envelope = run_postcat(host, ["-e", "-q", qf.queue_id]).stdout.splitlines()
    assert envelope[-3:] == [f"*** {m} deferred/{qf.queue_id[0]}/{qf.queue_id} ***" for m in
                             ("MESSAGE CONTENTS", "HEADER EXTRACTED", "MESSAGE FILE END")]  # fmt: skip
    assert "sender: alice@example.org" in envelope
    both = run_postcat(host, ["-hbq", qf.queue_id]).stdout
    assert both == qf.content.decode().replace("\r\n", "\n")


def test_an_unknown_queue_id_is_postfix_fatal_error(tmp_path):
    world, host = dead_mx(tmp_path)
    out = run_postcat(host, ["-q", "NOSUCH"])
    assert out.as_tuple() == (1, "", "postcat: fatal: open queue file NOSUCH: No such file or directory\n")
    code, _, err = run_postcat(host, ["-x"]).as_tuple()
    assert code == 1 and err.startswith("postcat: invalid option -- 'x'\npostcat: fatal: usage: postcat")


def test_a_damaged_file_is_shown_up_to_the_damage(tmp_path):
    world, host = dead_mx(tmp_path)
    qf = next(iter(host.queue))
    host.queue.damage(qf.queue_id, keep=0.5)
    lines = run_postcat(host, ["-q", qf.queue_id]).stdout.splitlines()
    assert lines[0].startswith("*** ENVELOPE RECORDS") and lines[-1].startswith("*** CORRUPT deferred/")
