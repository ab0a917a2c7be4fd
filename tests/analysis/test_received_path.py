"""The Received chain read bottom-up, as a table and as a drawn path, on realistic and broken messages."""

from __future__ import annotations

import pytest

from mailsim.analysis.received_path import (
    as_message,
    delay_text,
    path_of,
    received_path_figure,
    received_table,
    wrap_host,
)
from tests.analysis.default_run import MAIL_DATA

SEED = MAIL_DATA / "seed-schweikert-gmail.eml"
ALL_MESSAGES = sorted(MAIL_DATA.rglob("*.eml"))


def gids(fig, gid):
    ax = fig.axes[0]
    return [a for a in [*ax.patches, *ax.texts] if a.get_gid() == gid]


def test_seed_message_read_from_the_bottom_starts_at_davids_home_machine():
    table = received_table(SEED)
    assert list(table.hop) == [1, 2, 3, 4, 5, 6]
    first = table.iloc[0]
    assert (first.from_ip, first.by_host, first.protocol) == ("198.51.100.23", "mail.schweikert.ch", "ESMTPSA")
    assert first.authenticated and first.encrypted
    assert list(table.by_host[:5]) == [
        "mail.schweikert.ch",
        "localhost",
        "mail.schweikert.ch",
        "mail-relay.atrust.com",
        "mx.google.com",
    ]
    assert table.by_software[3] == "Exim 4.96"


def test_delays_compare_stamps_across_time_zones_and_hop_one_counts_from_the_date_header():
    assert list(received_table(SEED).delay) == [1.0] * 6


def test_seed_path_has_a_box_per_host_and_an_arrow_per_hop(tmp_path):
    nodes, edges = path_of(SEED)
    assert [n.name for n in nodes][:2] == ["198-51-100-23.dclient.hispeed.ch", "mail.schweikert.ch"]
    assert len(nodes) == 7 and len(edges) == 6
    assert edges[0].label.splitlines() == ["ESMTPSA", "TLSv1.3", "from [198.51.100.23]", "+1 s"]
    fig = received_path_figure(SEED)
    assert len(gids(fig, "box")) == 7 and len(gids(fig, "arrow")) == 6
    assert [t.get_text().split(":")[0] for t in gids(fig, "label")] == [f"hop {i}" for i in range(1, 7)]
    fig.savefig(tmp_path / "path.png", dpi=60)
    assert (tmp_path / "path.png").stat().st_size > 5000


def test_a_message_made_on_the_host_itself_is_one_box():
    nodes, edges = path_of(MAIL_DATA / "postfix-3.7" / "dsn-failed-full.eml")
    assert [n.name for n in nodes] == ["mail.example.org"] and edges == []
    assert "(made here)" in nodes[0].detail


def test_garbage_received_lines_become_question_marks_and_notes_not_errors(tmp_path):
    path = MAIL_DATA / "garbage-received.eml"
    table = received_table(path)
    assert len(table) == 6
    assert (table.notes != "").sum() >= 5
    nodes, edges = path_of(path)
    assert "?" in [n.name for n in nodes]
    assert all(e.colour == "#c0392b" for e in edges if "?" in e.label)
    received_path_figure(path).savefig(tmp_path / "garbage.png", dpi=60)


def test_no_received_headers_gives_an_empty_table_and_a_figure_that_says_so():
    message = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    assert received_table(message).empty
    assert list(received_table(message).columns)[:3] == ["hop", "from_helo", "from_rdns"]
    assert "no Received headers" in received_path_figure(message).axes[0].texts[0].get_text()


@pytest.mark.parametrize("path", ALL_MESSAGES, ids=lambda p: p.name)
def test_every_sample_message_draws(path, tmp_path):
    table = received_table(path.read_bytes())
    nodes, edges = path_of(as_message(path))
    assert len(edges) <= len(table) <= len(nodes) + 1
    received_path_figure(path.read_text(errors="replace")).savefig(tmp_path / "m.png", dpi=40)


def test_delay_text_says_when_clocks_disagree():
    assert delay_text(1.0) == "+1 s" and delay_text(150) == "+2.5 min" and delay_text(None) == "+?"
    assert delay_text(-3) == "−3 s (clocks disagree)"


def test_long_host_names_break_after_a_dot():
    assert wrap_host("198-51-100-23.dclient.hispeed.ch", 24) == "198-51-100-23.dclient.\nhispeed.ch"
    assert wrap_host("", 24) == "?"
