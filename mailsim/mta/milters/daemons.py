"""The programs a host runs beside Postfix, found by their configuration files in the host folder.

A host folder holding ``opendkim.conf`` runs opendkim; Postfix reaches it when a milter list names
its ``Socket``. :class:`Daemons` reads every known file once when the host is built (a broken file
is a ``FILE:LINE: key: expected X, found Y`` error before the run), keeps the milters by socket,
and builds the milter chain for each way mail enters cleanup:

==========================  ==============================================================
origin                      milters
==========================  ==============================================================
an smtpd service            ``smtpd_milters`` as that service sees it (``-o`` overrides)
pickup (sendmail)           ``non_smtpd_milters``
bounce(8) notices           ``non_smtpd_milters`` when internal_mail_filter_classes has bounce
local(8) forwarding, other  none: Postfix sends internally forwarded mail past every filter
==========================  ==============================================================

It also offers postsrsd's lookup tables (:mod:`~mailsim.mta.milters.postsrsd`) and the signing
keys the world must publish (:func:`~mailsim.mta.milters.keys.publish_dkim_keys`).

Postfix parameters read: smtpd_milters, non_smtpd_milters, milter_default_action (tempfail),
milter_macro_daemon_name ($myhostname), internal_mail_filter_classes (empty).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailsim.mail.envelope import Envelope
from mailsim.mta.filters.antivirus import ClamavMilter
from mailsim.mta.filters.disclaimer import DisclaimerMilter
from mailsim.mta.filters.dlp import DlpMilter
from mailsim.mta.filters.forgery import ForgeryMilter
from mailsim.mta.filters.spam import SpamassMilter
from mailsim.mta.milters.base import DaemonContext, Milter, MilterMessage
from mailsim.mta.milters.chain import ChainResult, MilterChain, build_chain
from mailsim.mta.milters.conf import DaemonConf, endpoint, read_daemon_conf, same_endpoint
from mailsim.mta.milters.openarc import OpenArc
from mailsim.mta.milters.opendkim import OpenDkim
from mailsim.mta.milters.opendmarc import OpenDmarc
from mailsim.mta.milters.postsrsd import postsrsd_tables
from mailsim.policy.auth.keys import DkimKey, KeyRing

Factory = Callable[[DaemonContext, DaemonConf], Milter]
KNOWN: dict[str, tuple[str, Factory]] = {
    "opendkim.conf": ("Socket", OpenDkim),
    "openarc.conf": ("Socket", OpenArc),
    "opendmarc.conf": ("Socket", OpenDmarc),
    "clamav-milter.conf": ("MilterSocket", ClamavMilter),
    "spamass-milter.conf": ("Socket", SpamassMilter),
    "dlp-milter.conf": ("Socket", DlpMilter),
    "forgery-milter.conf": ("Socket", ForgeryMilter),
    "disclaimer-milter.conf": ("Socket", DisclaimerMilter),
}
"""Configuration file name -> (the option that names its socket, the daemon)."""


class Daemons:
    """The milters and postsrsd of one host (see the module docstring)."""

    def __init__(self, host: Any) -> None:
        self.host = host
        folder: Path | None = host.config.folder
        own = (host.name, host.main.get("myhostname"), *host.addresses)
        self.context = DaemonContext(host.name, host.main.get("myhostname"), folder or host.files,
                                     host.resolver.lookup_now, host.sim.rng, KeyRing(), own)  # fmt: skip
        self.milters: list[tuple[tuple[str, str] | None, Milter]] = []
        for file, (option, factory) in KNOWN.items():
            path = folder / file if folder is not None else None
            if path is not None and path.is_file():
                conf = read_daemon_conf(path)
                socket = conf.get(option)
                if socket is None:
                    raise conf.error(option, "the socket the daemon listens on", "nothing")
                self.milters.append((endpoint(socket, own), factory(self.context, conf)))
        self.tables = postsrsd_tables(folder, self._unix_now) if folder is not None else {}
        self._chains: dict[tuple[str, str], MilterChain] = {}

    def _unix_now(self) -> float:
        return float(self.host.sim.wallclock().timestamp())

    def find(self, socket: str) -> Milter | None:
        """The daemon listening on a Postfix milter socket, or None (nobody listens there)."""
        wanted = endpoint(socket, self.context.own_names)
        return next((milter for where, milter in self.milters if same_endpoint(where, wanted)), None)

    def keys(self) -> list[DkimKey]:
        """Every signing key of this host's daemons, for the world's DNS."""
        return list(self.context.keys)

    def chain(self, service: str, smtpd: bool) -> MilterChain:
        """The milter list for mail from ``service`` (an smtpd service name, or pickup/bounce/local)."""
        main = self.host.service_main(service, "inet") if smtpd else self.host.main
        if smtpd:
            value, what = main.get("smtpd_milters"), "smtpd_milters"
        elif service == "pickup" or (service == "bounce" and "bounce" in main.list("internal_mail_filter_classes")):
            value, what = main.get("non_smtpd_milters"), "non_smtpd_milters"
        else:
            value, what = "", "none"
        key = (what, value)
        if key not in self._chains:
            self._chains[key] = build_chain(self.host, value, main.get("milter_default_action"), self.find, what=what)
        return self._chains[key]

    def milter_time(self, service: str, size: int) -> float:
        """Seconds the smtpd_milters of ``service`` work on a message of ``size`` bytes."""
        return self.chain(service, smtpd=True).cost(size)

    def inspect(self, queue_id: str, envelope: Envelope, content: bytes, origin: Any) -> ChainResult:
        """Run the origin's milters on a message cleanup is about to queue (see the module docstring)."""
        smtpd = origin.protocol != "local"
        chain = self.chain(origin.service, smtpd)
        if not chain:
            return ChainResult(content)
        main = self.host.service_main(origin.service, "inet") if smtpd else self.host.main
        message = MilterMessage(self.context.myhostname, queue_id, origin.client_address, origin.client_name,
                                origin.helo, origin.sasl_username, main.get("milter_macro_daemon_name"), smtpd,
                                envelope, content, self._unix_now())  # fmt: skip
        result = chain.run(message)
        self._log(queue_id, envelope, origin, result)
        return result

    def _log(self, queue_id: str, envelope: Envelope, origin: Any, result: ChainResult) -> None:
        """cleanup's maillog lines for what the milters did (Postfix's milter-reject/-discard/-hold)."""
        if result.reply is not None:
            what = f"milter-reject: END-OF-MESSAGE from {origin.client_name}[{origin.client_address}]: "
            what += f"{result.reply.enhanced or ''} {result.reply.text}".strip()
        elif result.discard:
            what = f"milter-discard: END-OF-MESSAGE from {origin.client_name}[{origin.client_address}]: milter triggers DISCARD action"
        elif result.hold is not None:
            what = f"milter-hold: END-OF-MESSAGE from {origin.client_name}[{origin.client_address}]: {result.hold}"
        else:
            what = ""
        tail = f"; from=<{envelope.mail_from}> to=<{','.join(envelope.rcpt_tos)}> proto={origin.protocol} helo=<{origin.helo}>"
        for line in result.log:
            self.host.sim.trace.emit(self.host.name, "cleanup", "action", queue_id=queue_id, text=line)
        if what:
            self.host.sim.trace.emit(self.host.name, "cleanup", "action", queue_id=queue_id, text=what + tail)
