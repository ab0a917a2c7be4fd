"""Sequence diagrams of one SMTP session and of one message's journey, drawn from a real default run."""

from __future__ import annotations

import itertools

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mailsim.analysis.ladder import (
    WIDTH,
    arrow_label,
    message_ladder,
    message_steps,
    session_ladder,
)
from mailsim.analysis.transcripts import list_sessions, paired_arrows, session_lines, single_arrows
from mailsim.engine.transcript import TranscriptLine
from tests.analysis.default_run import bounced, default_frames, first_submitted


@pytest.fixture(scope="module")
def frames():
    return default_frames()


@pytest.fixture(scope="module")
def submission(frames):
    listing = list_sessions(frames)
    return listing[listing.service == "submission"].session.iloc[0]


def gids(fig: Figure, gid: str) -> list:
    ax = fig.axes[0]
    return [a for a in [*ax.lines, *ax.patches, *ax.texts] if a.get_gid() == gid]


def render(fig: Figure, path) -> None:
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 5000


def overlapping(fig: Figure, gid: str) -> list[tuple[str, str]]:
    """Pairs of texts with this gid whose drawn boxes overlap."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in gids(fig, gid)]
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


def test_session_ladder_has_two_lifelines_and_one_arrow_per_burst(frames, submission, tmp_path):
    arrows = paired_arrows(session_lines(frames, submission, side="client"), session_lines(frames, submission))
    fig = session_ladder(frames, submission)
    assert len(gids(fig, "lifeline")) == 2
    assert len(gids(fig, "arrow")) == len(arrows) == len(gids(fig, "label"))
    assert len(arrows) < len(session_lines(frames, submission))  # the EHLO reply is one arrow, not nine
    render(fig, tmp_path / "session.png")


def test_paired_arrows_slope_by_the_one_way_delay(frames, submission):
    client = session_lines(frames, submission, side="client")
    server = session_lines(frames, submission, side="server")
    arrows = paired_arrows(client, server)
    assert all(a.received > a.sent for a in arrows)
    assert arrows[0].direction == "S" and arrows[0].texts == ("220 mail.example.org ESMTP Postfix",)
    ehlo_reply = next(a for a in arrows if a.texts[0].startswith("250-"))
    assert ehlo_reply.texts[-1].startswith("250 ")


def test_session_ladder_labels_do_not_overlap(frames, submission):
    fig = session_ladder(frames, submission)
    assert overlapping(fig, "label") == []


def test_single_side_ladder_draws_a_row_per_burst(frames, submission, tmp_path):
    lines = session_lines(frames, submission)
    fig = session_ladder(frames, submission, paired=False)
    arrows = [p for p in gids(fig, "arrow")]
    assert len(arrows) == len(single_arrows(lines))
    assert len(gids(fig, "time")) == len(arrows)
    assert overlapping(fig, "label") == []
    render(fig, tmp_path / "single.png")


def test_tls_handshake_gap_is_named(frames, submission):
    notes = [t.get_text() for t in gids(session_ladder(frames, submission), "note")]
    assert notes and "TLS handshake" in notes[0]


def test_long_lines_are_wrapped_or_cut_never_wider_than_the_label_width():
    long = "550 5.1.1 <" + "x" * 120 + "@example.net>: Recipient address rejected: User unknown"
    assert all(len(line) <= WIDTH for line in arrow_label([long]).splitlines())
    assert len(arrow_label([long]).splitlines()) == 2
    burst = arrow_label([f"RCPT TO:<user{i}@example.net>" for i in range(6)])
    assert burst.splitlines()[-1] == "… (+3 more lines)"
    ehlo = arrow_label(["250-mx.example.net", "250-PIPELINING", "250-SIZE 10240000", "250 SMTPUTF8"])
    assert ehlo.splitlines() == ["250-mx.example.net", "PIPELINING · SIZE 10240000 · SMTPUTF8"]


def test_message_ladder_has_a_lifeline_per_host_and_an_arrow_per_session(frames, tmp_path):
    mid = first_submitted(frames)
    steps = message_steps(frames, mid)
    fig = message_ladder(frames, mid)
    hosts = [t.get_text() for t in gids(fig, "host")]
    assert hosts[:3] == ["laptop.example.org", "mail.example.org", "mx.example.net"]
    assert len(gids(fig, "lifeline")) == len(hosts)
    sessions = [s for s in steps if len(s.hosts) == 2]
    assert [s.label.split(":")[0] for s in sessions] == ["submission 587", "smtp 25"]
    assert all(": 250 2.0.0 Ok: queued as " in s.label for s in sessions)
    assert len(gids(fig, "arrow")) == len(sessions)
    assert len(gids(fig, "marker")) == len(steps) - len(sessions)
    assert any("incoming → active" in s.label for s in steps)
    assert overlapping(fig, "label") == []
    render(fig, tmp_path / "journey.png")


def test_message_ladder_shows_the_bounce_and_where_it_went(frames):
    labels = [s.label for s in message_steps(frames, bounced(frames))]
    assert any(" bounced (5.1.1)" in label for label in labels)
    assert any(label.startswith("bounce: non-delivery notice to <alice@example.org>") for label in labels)
    without = [s.label for s in message_steps(frames, bounced(frames), follow_bounces=False)]
    notice = next(label for label in labels if label.startswith("bounce:")).rsplit(" ", 1)[-1]
    assert any(notice in label for label in labels if label.startswith("queue file"))
    assert not any(notice in label for label in without if label.startswith("queue file"))


def test_message_steps_keep_cause_before_effect_at_the_same_instant(frames):
    steps = message_steps(frames, bounced(frames))
    assert [s.time for s in steps] == sorted(s.time for s in steps)
    labels = [s.label for s in steps]
    first_dsn_queue = next(i for i, label in enumerate(labels) if label.startswith("bounce:"))
    assert any(" bounced " in label for label in labels[:first_dsn_queue])


def test_fast_fidelity_draws_hops_from_the_log_records(tmp_path):
    frames = default_frames("fast")
    assert frames["sessions"].empty
    mid = first_submitted(frames)
    steps = message_steps(frames, mid)
    assert any(s.hosts == ("laptop.example.org", "mail.example.org") for s in steps)
    assert any(s.hosts[:1] == ("mail.example.org",) and "mx.example.net" in s.hosts for s in steps)
    render(message_ladder(frames, mid), tmp_path / "fast.png")


def test_unknown_message_gives_an_empty_figure_not_an_error(frames):
    fig = message_ladder(frames, "no-such-id@example")
    assert "no trace" in fig.axes[0].texts[0].get_text()


def test_arrows_from_one_side_only_are_horizontal():
    lines = [TranscriptLine(0.0, "S", "220 hi", 8), TranscriptLine(0.1, "C", "QUIT", 6)]
    assert [(a.sent, a.received) for a in single_arrows(lines)] == [(0.0, 0.0), (0.1, 0.1)]
