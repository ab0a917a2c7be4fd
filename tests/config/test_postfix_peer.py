"""mailsim's configuration tools against real Postfix 3.7 (Debian's postconf, postmap, postalias).

Every comparison writes a throwaway config folder, runs the real tool and mailsim's twin on it and
compares stdout and exit code (and postconf's warnings). Host-derived defaults are compared with
HostFacts built from this machine's name and interfaces, which is what the real tools read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mailsim.config import DEFAULT_MASTER_CF, parse_master_cf, run_postalias, run_postconf, run_postmap
from tests.config.conftest import EPOCH_2000, real_host_facts, run_real

pytestmark = pytest.mark.peer

MAIN_CFS = {
    "empty": "",
    "level-3.6": "compatibility_level = 3.6\nmyhostname = mail.example.org\n",
    "level-2": "compatibility_level = 2\nmydomain = example.net\n",
    "level-1": "compatibility_level = 1\nmyhostname = host\n",
    "null-client": "mydomain = cs.colorado.edu\nmyorigin = $mydomain\nmydestination =\nrelayhost = [mail.cs.colorado.edu]\n",
    "expansion-forms": (
        "myhostname = mail.example.org\n"
        "smtpd_banner = [$mydomain] [${mydomain}] [$(mydomain)] [${mydomain?yes}] [${mydomain:no}] [${relayhost?yes}]"
        " [${relayhost:no}] [${mydomain?{a b}}] [${relayhost:{c d}}] [${relayhost?{x}:{y}}] [$$] [${mydomain?$myhostname}]\n"
        "smtpd_reject_footer = ${{$mydomain} == {example.org} ? {eq} : {ne}}|${{10}<{9}?{lt}:{ge}}|${{3.6} <level {3.10}?{lt}}\n"
        "myorigin = ${mydomain?x:y}\n"
    ),
    "continuations": (
        "# a comment\nsmtpd_recipient_restrictions = permit_mynetworks,\n   # inside\n\n    reject_unauth_destination\n"
        "smtpd_banner = $myhostname # not a comment\nmydomain = first.example\nmydomain = second.example\n"
        "  orphan = 1\n"
    ),
    "user-defined": (
        "mua_client = permit_sasl_authenticated, reject\nsmtpd_client_restrictions = $mua_client\nlonely = 1\n"
        "smtpd_restriction_classes = strict\nstrict = reject\nrelayhost = $nowhere\na = $b\nb = 1\n"
    ),
    "networks": "mynetworks_style = class\ninet_protocols = ipv4\nmyhostname = mx.example.com\n",
    "loopback": "inet_interfaces = loopback-only\ncompatibility_level = 3.6\n",
    "stress": "stress = yes\nmyhostname = busy.example.com\nsmtpd_timeout = ${stress?{5}:{300}}s\n",
    "services": (
        "relay_destination_concurrency_limit = 3\nmaildrop_time_limit = 100\nfoo_destination_recipient_limit = 4\n"
        "default_destination_recipient_limit = 7\n"
    ),
}


def compare_postconf(folder: Path, *flags: str) -> tuple[list[str], list[str], int]:
    """(real lines, mailsim lines, number of lines) of ``postconf -c folder flags``, warnings checked."""
    real = run_real("postconf", "-c", str(folder), *flags)
    code, out, err = run_postconf(["-c", str(folder), *flags], host=real_host_facts())
    assert code == real.returncode
    if "-d" not in "".join(flags):
        assert sorted(set(err.splitlines())) == sorted(set(real.stderr.splitlines()))

    def lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("process_id =")]

    return lines(real.stdout), lines(out), len(lines(real.stdout))


@pytest.mark.parametrize("name", sorted(MAIN_CFS))
@pytest.mark.parametrize("flags", [("-x",), ("-n",), ("-nx",)])
def test_postconf_equals_real_postconf(config_dir: Callable[..., Path], name: str, flags: tuple[str, ...]) -> None:
    folder = config_dir(MAIN_CFS[name], DEFAULT_MASTER_CF)
    real, mine, count = compare_postconf(folder, *flags)
    differences = [(a, b) for a, b in zip(real, mine) if a != b]
    assert (len(real), differences[:5]) == (len(mine), [])
    assert count >= (1000 if flags == ("-x",) else 1)


def test_postconf_d_equals_real_postconf_d(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("myhostname = ignored.example\n", DEFAULT_MASTER_CF)
    real, mine, count = compare_postconf(folder, "-d")
    assert count > 1000
    assert real == mine


IMPORTANT = [
    "myhostname",
    "mydomain",
    "myorigin",
    "mydestination",
    "mynetworks",
    "mynetworks_style",
    "relay_domains",
    "relayhost",
    "inet_interfaces",
    "append_dot_mydomain",
    "append_at_myorigin",
    "smtputf8_enable",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
    "queue_run_delay",
    "minimal_backoff_time",
    "maximal_backoff_time",
    "maximal_queue_lifetime",
    "bounce_queue_lifetime",
    "delay_warning_time",
    "initial_destination_concurrency",
    "default_destination_concurrency_limit",
    "default_process_limit",
    "smtpd_client_connection_count_limit",
    "qmgr_message_active_limit",
    "message_size_limit",
    "alias_maps",
    "alias_database",
    "local_recipient_maps",
    "default_transport",
    "local_transport",
    "smtpd_banner",
    "recipient_delimiter",
    "virtual_alias_domains",
    "virtual_mailbox_domains",
    "notify_classes",
    "soft_bounce",
    "smtp_connect_timeout",
    "smtpd_delay_reject",
    "parent_domain_matches_subdomains",
    "compatibility_level",
]


@pytest.mark.parametrize("flags", ["-d", "-dhx", "-hx"])
def test_important_parameters_one_by_one(config_dir: Callable[..., Path], flags: str) -> None:
    folder = config_dir("myhostname = mail.example.org\n", DEFAULT_MASTER_CF)
    real = run_real("postconf", "-c", str(folder), flags, *IMPORTANT)
    assert run_postconf(["-c", str(folder), flags, *IMPORTANT], host=real_host_facts())[1] == real.stdout


MASTER_CF = (
    "smtp inet n - y - - smtpd\n"
    "submission inet n - n - - smtpd\n  -o syslog_name=postfix/submission\n  -o { smtpd_reject_footer = hi there }\n"
    "127.0.0.1:2525 inet n - n - 3 smtpd -v\n"
    "policy unix - n n - 0 spawn user=nobody argv=/usr/bin/policyd-spf\n"
    "postlog unix-dgram n - n - 1 postlogd\n"
    "tlsmgr unix - - y 1000? 1 tlsmgr\n"
)


@pytest.mark.parametrize("text", [DEFAULT_MASTER_CF, MASTER_CF], ids=["debian-stock", "custom"])
def test_master_cf_services_equal_postconf_m_and_p(config_dir: Callable[..., Path], text: str) -> None:
    folder = config_dir("", text)
    master = parse_master_cf(text)
    assert [s.format() for s in master.services()] == run_real("postconf", "-c", str(folder), "-M").stdout.splitlines()
    overrides = [f"{s.name}/{s.type}/{n} = {v}" for s in master.services() for n, v in s.overrides]
    assert sorted(overrides) == sorted(run_real("postconf", "-c", str(folder), "-P").stdout.splitlines())


TABLE = "Foo@Example.COM   bar baz  \n# comment\nkey2 value2\n  continued here\nkey3\tv3 # x\nfoo@example.com dup\nnovalue\nkey:colon val\n"
REGEXP = (
    "/^(.*)@example\\.com$/   ${1}@example.org\n/^Admin@/  ADMIN\nif /^a/\n/b$/ a-then-b\nendif\n/^x(y)?z$/ [$1]\n"
    "/^[[:digit:]]+$/ digits\n/^[\\.]$/ dot-or-backslash\n/^CASE$/i exact-case\n/^(a|ab)(c|bcd)(d*)$/ [$1|$2|$3]\n"
    "!/\\.org$/ notorg\n/(.)(.)/ $2$1 and $$ and ${2}\n/abc/\n/x/z y\n"
)
CIDR = (
    "192.0.2.0/24   net24\n192.0.2.7 host7\n10.0.0.0/8  ten\n  with continuation\n2001:db8::/32 v6net\n"
    "192.0.2.1/24 badnet\nif 172.16.0.0/12\n172.16.1.0/24 inner\nendif\n!192.168.0.0/16 notpriv\n"
)
TABLE_KEYS = ["foo@example.com", "FOO@EXAMPLE.COM", "key2", "key3", "novalue", "key:colon", "nope"]
PATTERN_KEYS = [
    "bob@example.com",
    "Bob@Example.COM",
    "admin@foo.org",
    "abcb@foo.org",
    "xz",
    "xyz",
    "ab.org",
    "123",
    "\\",
    ".",
    "CASE",
    "case",
    "abcd",
    "q",
    "zzz.org",
]
CIDR_KEYS = [
    "192.0.2.7",
    "192.0.2.9",
    "10.1.2.3",
    "2001:db8::1",
    "2001:db9::1",
    "8.8.8.8",
    "::1",
    "foo",
    "172.16.1.5",
    "172.17.0.1",
    "192.168.3.4",
]
SPECIALS = [
    ("B", "inline:{a=1, B=2}"),
    ("c", "inline:{a=1, { c = with space }}"),
    ("x", "inline:{a=1, d}"),
    ("a", "inline:{}"),
    ("any", "static:{ a b }"),
    ("any", "static:foo"),
    ("b", "unionmap:{inline:{b=1}, inline:{b=2}, inline:{c=3}}"),
    ("a", "pipemap:{inline:{a=b}, inline:{b=c}}"),
    ("a", "pipemap:{inline:{a=b}, inline:{x=c}}"),
    ("a", "foo:bar"),
    ("key2", "texthash:t"),
    ("FOO@EXAMPLE.COM", "texthash:t"),
    ("novalue", "texthash:t"),
]  # each fatal error costs a second of Postfix's msg_fatal sleep: fail:, hash:missing etc. are unit-tested instead


def table_cases(available: set[str]) -> list[tuple[str, str]]:
    """The queries, for the table types this Postfix has (pcre and lmdb are separate Debian packages)."""
    cases = [(key, f"{kind}:{kind}") for kind in ("hash", "btree", "lmdb") if kind in available for key in TABLE_KEYS]
    cases += [(key, f"{kind}:re") for kind in ("regexp", "pcre") if kind in available for key in PATTERN_KEYS]
    return cases + [(key, "cidr:c") for key in CIDR_KEYS] + SPECIALS


def available_types(folder: Path) -> set[str]:
    """``postconf -m``: the table types the installed Postfix supports."""
    return set(run_real("postconf", "-c", str(folder), "-m").stdout.split())


def test_postmap_query_equals_real_postmap(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("", "", t=TABLE, hash=TABLE, btree=TABLE, lmdb=TABLE, re=REGEXP, c=CIDR)
    available = available_types(folder)
    for kind in ("hash", "btree", "lmdb"):  # hash and btree would both write t.db: one source each
        if kind in available:
            run_real("postmap", "-c", ".", f"{kind}:{kind}", cwd=folder)
    backdate_databases(folder)
    cases = table_cases(available)
    mismatches = []
    for key, spec in cases:
        real = run_real("postmap", "-c", ".", "-q", key, spec, cwd=folder)
        mine = run_postmap_in(folder, ["-c", ".", "-q", key, spec])
        if (real.returncode, real.stdout, "fatal:" in real.stderr) != (*mine[:2], "fatal:" in mine[2]):
            mismatches.append((key, spec, real.returncode, real.stdout, real.stderr, mine))
    assert len(cases) >= 50  # 75 with Debian's postfix-pcre and postfix-lmdb installed
    assert mismatches == []


def backdate_databases(folder: Path) -> None:
    """Postfix sleeps before opening a database written in the last seconds; make them a day old."""
    for path in folder.iterdir():
        if path.suffix in (".db", ".lmdb"):
            os.utime(path, (EPOCH_2000 + 86400, EPOCH_2000 + 86400))


def run_postmap_in(folder: Path, argv: list[str]) -> tuple[int, str, str]:
    """mailsim's postmap run from ``folder`` (Postfix resolves relative table names from the current folder)."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        return run_postmap(argv)
    finally:
        os.chdir(here)


ALIASES = (
    '# aliases\nPostmaster: root\nmailer-daemon:   postmaster\nlist: a, b,\n  c,\n\td\n"quoted name": x\n'
    'auto: "|/usr/bin/prog arg"\nfile: /tmp/file, "/tmp/sp ace"\ninc: :include:/etc/postfix/list.inc\n'
    "postmaster: dup\nnocolon value\nempty:\nabc : def\nbig: a # hash\nuser+ext: z\na%b: x\n"
    'b1: a<b>\nb2: <a> b\nb3: a (c)\nb4: (c)a\nb5: a[1.2.3.4]\nb6: x"q"\nb7: [1.2.3.4]x\nb8: <a>(c)\n'
    'b9: "q"(c)"r"\nb10: a<b> , c\nb11: (c)<a>\nb12: <a><b>\nb13: a.b c.d\nb14: ;a\nb15: a: b\nb16: a , ,\n'
    'b17: (nested (c) x) y\nb18: a\\,b\nb19: a<b>c\nb20: [a]<b>\nb21: >x\nb22: \\\\user\nb23: "q\\"x" , "plain"\n'
    'b24: ""\nb25: a,,b\nb26: Joe <joe@x.org>\nhas space: z\n'
)
ALIAS_KEYS = [
    "postmaster",
    "Postmaster",
    "MAILER-DAEMON",
    "list",
    "quoted name",
    '"quoted name"',
    "auto",
    "file",
    "inc",
    "empty",
    "abc",
    "big",
    "user+ext",
    "user",
    "nocolon",
    "a%b",
    "has space",
] + [f"b{i}" for i in range(1, 27)]


def test_postalias_query_equals_real_postalias(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("", "", aliases=ALIASES)
    run_real("postalias", "-c", ".", "hash:aliases", cwd=folder)
    backdate_databases(folder)
    mismatches = []
    for key in ALIAS_KEYS:
        real = run_real("postalias", "-c", ".", "-q", key, "hash:aliases", cwd=folder)
        mine = run_postalias(["-c", str(folder), "-q", key, "hash:/etc/aliases"])
        if (real.returncode, real.stdout) != mine[:2]:
            mismatches.append((key, real.returncode, real.stdout, mine[:2]))
    assert len(ALIAS_KEYS) >= 40
    assert mismatches == []
