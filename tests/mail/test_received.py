"""Received headers: Postfix's exact form, and reading other MTAs' forms bottom-up without crashing."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mailsim.mail.message import as_bytes, parse_message, prepend_header, raw_header_values
from mailsim.mail.received import (
    TlsInfo,
    local_received,
    parse_received,
    received_chain,
    received_header,
    with_protocol,
)

ORACLE_TIME = datetime(2026, 11, 25, 0, 33, 47, tzinfo=UTC)


def _oracle_received(postfix_dir, name: str) -> str:
    msg = parse_message((postfix_dir / name).read_bytes())
    return raw_header_values(msg, "Received")[0].replace("\r\n", "\n")


def test_received_equals_real_postfix_for_one_recipient_over_tls(postfix_dir):
    ours = received_header(
        helo="mua.example.com", client_name="localhost", client_address="127.0.0.1", by_host="mail.example.org",
        protocol=with_protocol(tls=True), queue_id="63AB620C3AB", recipients=["carol@example.com"],
        date=ORACLE_TIME, tls=TlsInfo(),
    )  # fmt: skip
    assert ours == _oracle_received(postfix_dir, "received-tls-single-rcpt.eml")


def test_received_equals_real_postfix_for_two_recipients(postfix_dir):
    ours = received_header(
        helo="mua.example.com", client_name="localhost", client_address="127.0.0.1", by_host="mail.example.org",
        protocol="ESMTP", queue_id="718EB20C3AB", recipients=["carol@example.com", "dave@example.com"],
        date=ORACLE_TIME,
    )  # fmt: skip
    assert ours == _oracle_received(postfix_dir, "received-two-rcpts.eml")
    assert "for <" not in ours  # Bcc recipients must not leak


def test_submission_hop_text():
    text = received_header(
        helo="laptop", client_name="unknown", client_address="2001:db8::5", by_host="mail.example.org",
        protocol=with_protocol(tls=True, auth=True), queue_id="4A1B2C3D4E", recipients="bob@example.net",
        date=datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC), sasl_username="alice",
    )  # fmt: skip
    assert text == (
        "from laptop (unknown [IPv6:2001:db8::5])\n\t(Authenticated sender: alice)\n"
        "\tby mail.example.org (Postfix) with ESMTPSA id 4A1B2C3D4E\n"
        "\tfor <bob@example.net>; Mon,  5 Jan 2026 09:00:00 +0000 (UTC)"
    )


def test_with_protocol_names_rfc3848():
    assert with_protocol(esmtp=False) == "SMTP"
    assert with_protocol() == "ESMTP"
    assert with_protocol(tls=True, auth=True) == "ESMTPSA"
    assert with_protocol(auth=True) == "ESMTPA"
    assert with_protocol(lmtp=True) == "LMTP"
    assert with_protocol(utf8=True, tls=True) == "UTF8SMTPS"


def test_local_received_for_bounces_and_pickup():
    when = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
    assert local_received("mail.example.org", "ABC123", when) == (
        "by mail.example.org (Postfix)\n\tid ABC123; Mon,  5 Jan 2026 09:00:00 +0000 (UTC)"
    )
    assert "(Postfix, from userid 1000)" in local_received("h", "Q", when, userid=1000)


def test_our_header_parses_back():
    text = received_header(
        helo="mua.example.com", client_name="mua.example.com", client_address="192.0.2.9", by_host="mx.example.org",
        protocol="ESMTPS", queue_id="5F2E1C00F3", recipients=["x@example.org"], date=ORACLE_TIME, tls=TlsInfo(),
    )  # fmt: skip
    hop = parse_received(text)
    assert (hop.from_helo, hop.from_rdns, hop.from_ip, hop.by_host) == (
        "mua.example.com", "mua.example.com", "192.0.2.9", "mx.example.org",
    )  # fmt: skip
    assert (hop.with_protocol, hop.id, hop.for_rcpt, hop.date) == ("ESMTPS", "5F2E1C00F3", "x@example.org", ORACLE_TIME)
    assert hop.encrypted and not hop.authenticated and hop.notes == ()
    assert hop.tls is not None and hop.tls.startswith("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384")


def test_seed_path_reads_bottom_up(data_dir):
    hops = received_chain((data_dir / "seed-schweikert-gmail.eml").read_bytes())
    assert [hop.by_host for hop in hops] == [
        "mail.schweikert.ch", "localhost", "mail.schweikert.ch", "mail-relay.atrust.com", "mx.google.com",
        "2002:a05:7300:5f8b:b0:1a2:3b4c:5d6e",
    ]  # fmt: skip
    submit, _scan, _back, relay, gmail, internal = hops
    assert submit.authenticated and submit.from_ip == "198.51.100.23" and submit.from_helo == "[192.168.1.23]"
    assert relay.by_software == "Exim 4.96" and relay.envelope_from == "david@schweikert.ch"
    assert relay.tls == "TLS1.3 TLS_AES_256_GCM_SHA384" and relay.from_ip == "192.0.2.25"
    assert gmail.from_ip == "203.0.113.40" and gmail.from_rdns == "mail-relay.atrust.com"  # the IP SPF saw
    assert gmail.for_rcpt == "evi.nemeth@gmail.com" and gmail.tls == "TLS1_3"
    assert internal.with_protocol == "SMTP" and internal.id == "x11csp2345678dyb"
    times = [hop.date for hop in hops]
    assert all(times) and times == sorted(times)  # every hop later than the one below it
    assert all(hop.notes == () for hop in hops)


def test_microsoft_hops(data_dir):
    hops = received_chain((data_dir / "office365-internal.eml").read_bytes())
    postfix, frontend, internal, https = hops
    assert postfix.from_rdns == "unknown" and postfix.from_ip == "2001:db8::42"
    assert frontend.from_ip == "198.51.100.77" and frontend.with_protocol == "Microsoft SMTP Server"
    assert frontend.tls == "TLS1_3" and internal.tls == "TLS1_2" and internal.id == "15.20.7828.19"
    assert https.with_protocol == "HTTPS" and https.date == datetime(2026, 1, 5, 9, 0, 4, tzinfo=UTC)


def test_garbage_yields_hops_with_notes_not_exceptions(data_dir):
    hops = received_chain((data_dir / "garbage-received.eml").read_bytes())
    assert len(hops) == 6
    semicolons, bad_ip, prose, bare_by, unbalanced, qmail = hops  # bottom-up
    assert qmail.date is not None and "no 'by' clause" in qmail.notes
    assert "unterminated comment" in unbalanced.notes and unbalanced.from_ip == "10.0.0.1"
    assert "empty 'by' clause" in bare_by.notes
    assert any(note.startswith("text before the first clause") for note in prose.notes)
    assert any("not a valid IP address" in note for note in bad_ip.notes)
    assert any("unparseable date" in note for note in bad_ip.notes)
    assert semicolons.by_host is None and all(hop.raw for hop in hops)


def test_message_without_received_has_an_empty_chain():
    assert received_chain(b"From: a@example.org\r\n\r\nhi\r\n") == []


def test_prepending_builds_the_chain_in_order():
    msg = parse_message(b"From: a@example.org\r\n\r\nhi\r\n")
    for number, host in enumerate(["first.example", "second.example"]):
        when = datetime(2026, 1, 5, 9, number, 0, tzinfo=UTC)
        prepend_header(msg, "Received", local_received(host, f"Q{number}", when))
    assert [hop.by_host for hop in received_chain(as_bytes(msg))] == ["first.example", "second.example"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_parser_never_raises(text):
    hop = parse_received(text)
    assert isinstance(hop.notes, tuple)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["from", "by", "with", "id", "for", "(", ")", "[", "]", ";", "<", ">", "x", " "]),
                max_size=40))  # fmt: skip
def test_parser_never_raises_on_keyword_soup(tokens):
    parse_received(" ".join(tokens))
