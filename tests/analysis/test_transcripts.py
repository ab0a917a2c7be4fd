"""Session listing, terminal-style transcripts and reply explanations over a real run of the default scenario."""

from __future__ import annotations

import re

import pytest

from mailsim.analysis.transcripts import (
    explain_reply,
    list_sessions,
    reply_class,
    session_lines,
    session_sides,
    session_transcript,
    split_endpoint,
)
from tests.analysis.default_run import default_frames


@pytest.fixture(scope="module")
def frames():
    return default_frames()


@pytest.fixture(scope="module")
def listing(frames):
    return list_sessions(frames)


def test_each_tcp_session_is_listed_once_with_both_sides_paired(frames, listing):
    sides = session_sides(frames)
    assert len(listing) == sides.key.nunique()
    assert set(listing.sides) == {"client+server"}
    assert listing.session.is_unique
    for side in sides.itertuples():
        partner = sides.iloc[side.partner]
        assert (partner.local, partner.peer) == (side.peer, side.local)


def test_submission_session_is_listed_with_client_server_port_and_queue_id(listing):
    submission = listing[listing.service == "submission"].iloc[0]
    assert submission.client == "laptop.example.org"
    assert submission.server == "mail.example.org"
    assert submission.port == 587
    assert submission.start < submission.end
    assert re.fullmatch(r"250 2\.0\.0 Ok: queued as [0-9A-F]+", submission.final_reply)
    assert submission.queue_ids in submission.final_reply
    assert submission.commands >= 6  # EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, QUIT


def test_transcript_renders_like_a_terminal_with_header_and_relative_times(listing, frames):
    text = session_transcript(frames, listing.session.iloc[0])
    header, first, *rest = text.splitlines()
    assert header.startswith(f"# {listing.session.iloc[0]}: submission as seen by the server mail.example.org")
    assert re.fullmatch(r"\[\+0\.000 ms\] S: 220 mail\.example\.org ESMTP Postfix", first)
    assert any(line.endswith("C: AUTH PLAIN ********") for line in rest)
    assert rest[-1].endswith("S: 221 2.0.0 Bye")


def test_transcript_can_be_chosen_by_host_and_index_and_shows_that_side(frames):
    text = session_transcript(frames, host="laptop.example.org", index=0, header=True, timestamps=False)
    assert "as seen by the client laptop.example.org" in text.splitlines()[0]
    assert text.splitlines()[1] == "S: 220 mail.example.org ESMTP Postfix"


def test_client_lines_reach_the_server_after_the_client_wrote_them(frames, listing):
    key = listing.session.iloc[0]
    client = session_lines(frames, key, side="client")
    server = session_lines(frames, key, side="server")
    sent = [ln.time for ln in client if ln.direction == "C"]
    read = [ln.time for ln in server if ln.direction == "C"]
    assert len(sent) == len(read)
    assert all(r > s for s, r in zip(sent, read))


def test_unknown_session_is_a_clear_error_naming_the_known_ones(frames, listing):
    with pytest.raises(ValueError, match="no recorded session side") as error:
        session_transcript(frames, "nowhere/smtp/9")
    assert listing.session.iloc[0] in str(error.value)


def test_joins_lines_by_key_and_time_when_the_frames_were_reordered(frames, listing):
    shuffled = dict(frames)
    shuffled["transcripts"] = frames["transcripts"].iloc[::-1]
    key = listing.session.iloc[0]
    assert session_lines(shuffled, key) == session_lines(frames, key)


def test_accepts_a_result_object_with_a_frames_method(frames):
    class Result:
        def frames(self):
            return frames

    assert len(list_sessions(Result())) == len(list_sessions(frames))


def test_explain_permanent_reply_with_enhanced_code():
    text = explain_reply("550 5.1.1 <x@y>: Recipient address rejected: User unknown in local recipient table")
    assert "permanent" in text and "RFC 5321 §4.2.1" in text
    assert "Addressing Status" in text and "Bad destination mailbox address" in text


def test_explain_transient_and_intermediate_replies():
    assert "transient" in explain_reply("454 4.7.1 <a@b>: Relay access denied")
    assert "Delivery not authorized" in explain_reply("454 4.7.1 <a@b>: Relay access denied")
    intermediate = explain_reply("354 End data with <CR><LF>.<CR><LF>")
    assert "intermediate" in intermediate and "no enhanced status code" in intermediate


def test_explain_notes_an_enhanced_class_that_disagrees_with_the_code():
    assert "disagrees" in explain_reply("421 5.3.0 odd server")


@pytest.mark.parametrize("garbage", ["", "hello", "999 nonsense", "25 short"])
def test_explain_garbage_says_so_instead_of_raising(garbage):
    assert "not an SMTP reply" in explain_reply(garbage)


def test_reply_class_follows_the_first_digit():
    assert [reply_class(t) for t in ("250 Ok", "354 go", "451 later", "550 no", "EHLO x")] == [
        "success",
        "intermediate",
        "transient",
        "permanent",
        None,
    ]


def test_split_endpoint_reads_ipv4_ipv6_and_junk():
    assert split_endpoint("192.0.2.10:587") == ("192.0.2.10", 587)
    assert split_endpoint("[2001:db8::1]:25") == ("2001:db8::1", 25)
    assert split_endpoint("2001:db8::1") == ("2001:db8::1", None)
    assert split_endpoint(None) == ("", None)


def test_client_transcripts_are_named_like_server_ones(frames):
    """Each client side has its own run-local id (HOST/SERVICE-client/N), so a class can pick a session by name."""
    clients = frames["transcripts"].query("side == 'client'").drop_duplicates("session")
    assert clients.session.str.fullmatch(r"[a-z.]+/[a-z]+-client/\d+").all()
    relays = clients[clients.host == "mail.example.org"].session.tolist()
    assert relays[:2] == ["mail.example.org/smtp-client/1", "mail.example.org/smtp-client/2"]
