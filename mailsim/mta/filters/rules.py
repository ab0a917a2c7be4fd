"""What the content filters share: ``/regex/flags`` in configuration lines, and "is this outgoing?".

Postfix parameters read: none.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from mailsim.mta.milters.base import MilterMessage
from mailsim.mta.milters.conf import DaemonConf

_SLASHED = re.compile(r"^/(.*)/([imsx]*)$")


def compile_pattern(conf: DaemonConf, option: str, text: str) -> re.Pattern[str]:
    """``/regex/flags`` (flags i, m, s, x) as a compiled pattern; a ConfigError names the option."""
    match = _SLASHED.match(text.strip())
    if match is None:
        raise conf.error(option, "/regex/ with optional flags imsx", text)
    flags = 0
    for letter in match.group(2):
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}[letter]
    try:
        return re.compile(match.group(1), flags)
    except re.error as error:
        raise conf.error(option, "a valid regular expression", f"{text} ({error})") from None


def originating(message: MilterMessage, internal_hosts: Iterable[str]) -> bool:
    """Outgoing mail: an authenticated client, a client in ``internal_hosts``, or local submission."""
    if message.authenticated or not message.smtpd:
        return True
    return any(_in_network(message.client_address, item) for item in internal_hosts)


def _in_network(address: str, item: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(item, strict=False)
    except ValueError:
        return address == item
