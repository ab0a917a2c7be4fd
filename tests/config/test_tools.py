"""postconf, postmap -q and postalias -q: Postfix's options, output text and exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailsim.config import HostFacts, load_config, postconf, run_postalias, run_postconf, run_postmap

HOST = HostFacts("mail.example.org", ("192.0.2.10/24",))


def test_postconf_prints_name_equals_value(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("myorigin = $mydomain\nmydestination =\n")
    code, out, err = run_postconf(["-c", str(folder), "myorigin", "mydestination", "relayhost"], host=HOST)
    assert (code, out, err) == (0, "myorigin = $mydomain\nmydestination =\nrelayhost =\n", "")


def test_postconf_h_x_and_d(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("myorigin = $mydomain\n")
    assert run_postconf(["-c", str(folder), "-hx", "myorigin"], host=HOST)[1] == "example.org\n"
    assert run_postconf(["-c", str(folder), "-d", "myorigin"], host=HOST)[1] == "myorigin = $myhostname\n"
    assert run_postconf(["-c", str(folder), "-dhx", "myorigin"], host=HOST)[1] == "mail.example.org\n"


def test_postconf_n_lists_explicit_settings_with_config_directory(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("relayhost = [mx]\nmua = x\nunused = y\nsmtpd_client_restrictions = $mua\n")
    code, out, _ = run_postconf(["-c", str(folder), "-n"], host=HOST)
    assert out == f"config_directory = {folder}\nmua = x\nrelayhost = [mx]\nsmtpd_client_restrictions = $mua\n"


def test_postconf_warns_about_unknown_names_and_still_succeeds(config_dir: Callable[..., Path]) -> None:
    code, out, err = run_postconf(["-c", str(config_dir()), "nosuch", "relayhost"], host=HOST)
    assert (code, out, err) == (0, "relayhost =\n", "postconf: warning: nosuch: unknown parameter\n")


def test_postconf_collapses_whitespace_like_postfix(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("smtpd_banner = a     b\tc\n  continued\n")
    assert run_postconf(["-c", str(folder), "-h", "smtpd_banner"], host=HOST)[1] == "a b c continued\n"


def test_postconf_reports_a_malformed_main_cf(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("nokey\n")
    code, _, err = run_postconf(["-c", str(folder)], host=HOST)
    assert code == 1 and err == f"postconf: fatal: {folder}/main.cf:1: missing '=' after attribute name: \"nokey\"\n"


def test_postconf_python_api(config_dir: Callable[..., Path]) -> None:
    config = load_config(config_dir("compatibility_level = 3.6\n"), HOST)
    assert postconf(config, ["mynetworks"], expand=True).stdout == "mynetworks = 127.0.0.1/32 192.0.2.10/32 [::1]/128\n"


def test_postmap_query_exit_codes(config_dir: Callable[..., Path]) -> None:
    folder = config_dir(access="example.com REJECT\n")
    assert run_postmap(["-c", str(folder), "-q", "EXAMPLE.com", "hash:/etc/postfix/access"]) == (0, "REJECT\n", "")
    assert run_postmap(["-c", str(folder), "-q", "other.com", "hash:/etc/postfix/access"]) == (1, "", "")
    assert run_postmap(["-c", str(folder), "-q", "x", "foo:bar"]) == (
        1,
        "",
        "postmap: fatal: unsupported dictionary type: foo\n",
    )


def test_postalias_query(config_dir: Callable[..., Path]) -> None:
    folder = config_dir(aliases='autolog: "|/usr/local/bin/autologger"\n')
    assert run_postalias(["-c", str(folder), "-q", "AutoLog", "hash:/etc/aliases"]) == (
        0,
        '"|/usr/local/bin/autologger"\n',
        "",
    )
    assert run_postalias(["-c", str(folder), "-q", "nobody", "hash:/etc/aliases"])[0] == 1


def test_only_the_query_mode_is_modelled() -> None:
    code, _, err = run_postmap(["hash:/etc/postfix/access"])
    assert code == 1 and "only the query mode" in err


def test_postconf_accepts_a_folder_or_a_bare_main_cf(config_dir: Callable[..., Path]) -> None:
    from mailsim.config import parse_main_cf

    assert postconf(parse_main_cf("relayhost = [mx]\n"), ["relayhost"]).stdout == "relayhost = [mx]\n"
    assert postconf(config_dir("relayhost = [a]\n"), ["relayhost"], hide_name=True).stdout == "[a]\n"
