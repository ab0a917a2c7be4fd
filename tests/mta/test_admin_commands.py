"""``mailsim mailq|postqueue|postsuper|postcat|qshape|postconf|postmap|postalias``: Postfix's options, our target."""

from __future__ import annotations

import pytest

from mailsim.commands import COMMANDS
from mailsim.mta.admin import mailq
from tests.mta.admin_worlds import DEAD_MX, STANDARD, dead_mx
from tests.mta.worlds import two_hosts

AT = "2m"


@pytest.fixture
def scenario(tmp_path):
    two_hosts(tmp_path, DEAD_MX + "".join(STANDARD), until="1d")
    return tmp_path


def _run(capsys, name, *argv):
    code = COMMANDS[name](list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_postfix_tool_is_a_command():
    assert set(COMMANDS) == {"mailq", "postqueue", "postsuper", "postcat", "qshape", "postconf", "postmap", "postalias"}


def test_mailq_of_a_scenario_host_at_a_time(scenario, tmp_path_factory, capsys):
    _, host = dead_mx(tmp_path_factory.mktemp("same"), until=120.0)
    assert _run(capsys, "mailq", str(scenario), "--host", "mail.example.org", "--at", AT) == (0, mailq(host), "")


def test_a_host_folder_names_the_scenario_and_the_host(scenario, capsys):
    code, out, err = _run(capsys, "postqueue", "-c", str(scenario / "hosts/mail"), "-j", f"--at={AT}")
    assert code == 0 and err == "" and len(out.splitlines()) == 2
    code, out, err = _run(capsys, "qshape", "-c", str(scenario / "hosts/mail"), "--at", AT, "deferred")
    assert code == 0 and out.splitlines()[1].split() == ["TOTAL", "3", "3", *["0"] * 9]  # all under 5 minutes old


def test_postsuper_and_postcat_print_what_postfix_prints(scenario, capsys):
    target = ["-c", str(scenario / "hosts/mail"), "--at", AT]
    assert _run(capsys, "postsuper", *target, "-d", "ALL") == (0, "", "postsuper: Deleted: 2 messages\n")
    code, out, err = _run(capsys, "postcat", *target, "-q", "NOSUCH")
    assert (code, err) == (1, "postcat: fatal: open queue file NOSUCH: No such file or directory\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "nope.example"], "mailsim mailq: --host: no mail host 'nope.example' in scenario"),
        (["--host", "mail.example.org", "--at", "soon"], "mailsim mailq: --at: expected a duration"),
        ([], "mailsim mailq: scenario "),
        (["--at"], "mailsim mailq: --at needs a value"),
    ],
)
def test_our_mistakes_are_one_line_and_exit_2(scenario, capsys, argv, message):
    code, out, err = _run(capsys, "mailq", str(scenario), *argv)
    assert code == 2 and out == "" and err.startswith(message) and err.count("\n") == 1


def test_a_folder_that_is_no_scenario(tmp_path, capsys):
    code, out, err = _run(capsys, "postqueue", "-c", str(tmp_path), "-p")
    assert code == 2 and "no scenario.toml here or above" in err and "Traceback" not in err


def test_a_broken_scenario_is_reported_without_a_traceback(scenario, capsys):
    (scenario / "scenario.toml").write_text('seed = "x"\n')
    code, out, err = _run(capsys, "mailq", str(scenario), "--host", "mail.example.org")
    assert code == 2 and "scenario.toml" in err and "Traceback" not in err


def test_config_tools_take_a_scenario_host(scenario, capsys):
    folder = str(scenario / "hosts/mail")
    assert _run(capsys, "postconf", "-c", folder, "-h", "mydomain") == (0, "example.org\n", "")
    assert _run(capsys, "postconf", "-c", str(scenario), "--host", "mx.example.net", "-h", "myhostname") == (
        0, "mx.example.net\n", "",
    )  # fmt: skip
    assert _run(capsys, "postmap", "-q", "k", "inline:{k=v}") == (0, "v\n", "")
    assert _run(capsys, "postalias", "-c", folder, "-q", "nobody", "inline:{nobody=root}") == (0, "root\n", "")
