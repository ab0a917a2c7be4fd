"""smtpd_forbidden_commands: a non-SMTP line (an HTTP request, a proxy CONNECT, a header) ends the session.

The replies were read off a real Postfix 3.7.11 on loopback (tests/postfix_oracle.py, default settings): an
unknown verb that is a header name (``Subject:``) or matches ``CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}``
gets ``221 2.7.0 Error: I can break rules, too. Goodbye.`` and the connection is closed; other unknown verbs,
in any case, get ``500 5.5.2 Error: command not recognized``.
"""

from __future__ import annotations

import pytest

from mailsim.engine.esmtp import default_forbidden, non_smtp
from mailsim.engine.server import ServerSettings
from tests.engine.smtp_support import EOF, HOST, RelayControl, settings, virtual_converse, world_with_server

GOODBYE = "221 2.7.0 Error: I can break rules, too. Goodbye.\n" + EOF
UNKNOWN = "500 5.5.2 Error: command not recognized"
RECORDED = [  # what Postfix 3.7.11 answered, command by command (one session per list)
    (["FOO", "help", "QUIT"], [UNKNOWN, UNKNOWN, "221 2.0.0 Bye\n" + EOF]),
    (["GET / HTTP/1.0"], [GOODBYE]),
    (["get /"], [GOODBYE]),
    (["post x"], [GOODBYE]),
    (["CONNECT x:25"], [GOODBYE]),
    (["Subject: hi"], [GOODBYE]),
    (["X-Foo: bar"], [GOODBYE]),
    (["foo", "QUIT"], [UNKNOWN, "221 2.0.0 Bye\n" + EOF]),
    (["1234"], [GOODBYE]),
    (["<html>"], [GOODBYE]),
    (["EHLO x", "MAIL FROM:<a@b.example>", "Received: x"], None),  # EHLO's list, 250, then goodbye
]


@pytest.mark.parametrize(("commands", "expected"), RECORDED)
def test_non_smtp_lines_end_the_session_as_postfix_does(commands: list[str], expected: list[str] | None) -> None:
    world, _ = world_with_server(settings(), RelayControl())
    replies = virtual_converse(world, commands)[1:]
    if expected is None:
        assert replies[1] == "250 2.1.0 Ok" and replies[-1] == GOODBYE
    else:
        assert replies == expected


def test_the_default_list_and_header_names() -> None:
    assert [non_smtp(word, default_forbidden) for word in ("GET", "POST", "CONNECT", "SUBJECT:", "1234", "<HTML>")] == [
        True
    ] * 6
    assert not any(non_smtp(word, default_forbidden) for word in ("FOO", "HELP", "EXPN", "XCLIENT"))


def test_a_configured_list_replaces_the_default() -> None:
    """smtpd_forbidden_commands = FOO: GET is merely unknown now, FOO ends the session (headers always do)."""
    custom = ServerSettings(HOST, forbidden_commands=lambda verb: verb.upper() == "FOO")
    world, _ = world_with_server(custom, RelayControl())
    assert virtual_converse(world, ["GET /", "foo"])[1:] == [UNKNOWN, GOODBYE]


def test_smtpd_reads_smtpd_forbidden_commands_from_main_cf(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mailsim.scenario.runner import role_builders
    from mailsim.scenario.world import build_world
    from tests.mta.worlds import RECEIVER_MAIN, two_hosts

    main = RECEIVER_MAIN + "smtpd_forbidden_commands = FOO, regexp:{{/^BAR/ x}}\n"
    world = build_world(two_hosts(tmp_path, "", receiver_main=main), builders=role_builders(), files=tmp_path / "f")
    (factory,) = [f for _, _, f in world.hosts["mx.example.net"].smtpd_factories()]
    forbidden = factory.settings.forbidden_commands
    assert [forbidden(word) for word in ("FOO", "foo", "BARX", "GET", "1234")] == [True, True, True, False, False]
