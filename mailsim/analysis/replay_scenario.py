"""A replayed message's path written as a scenario folder that runs, and that a user edits.

From a :class:`~mailsim.analysis.replay.Replay`: one host per machine on the path (the sending
client as a user agent, every receiver as a Postfix host; hops inside one machine are folded into
it, an amavisd-new hop becoming a clamav-milter), each linked to one router; the recipient
domains' MX records from the hops that received for them; a forward wherever the recipient
changed (an alias on the forwarding host); the sender domain's SPF record guessed from what the
receivers observed (``mx`` with the qualifier that reproduces their result); policyd-spf (headers
only) where a Received-SPF was written; opendkim signing at the sender's MSA when the message
carried a DKIM-Signature of the sender's domain (with a new key: the original is not ours);
opendkim/openarc/opendmarc verifiers where Authentication-Results were written; openarc sealing
at a forwarder whose domain sealed an ARC set. Addresses come from the headers; a machine whose
address no header shows gets one from the documentation ranges. Everything guessed is said so in
a comment of the file that holds it, and the folder's README.md keeps the replay report.

Postfix parameters written: myhostname, mydomain, myorigin, mydestination, alias_maps,
smtpd_tls_security_level, smtp_tls_security_level, local_header_rewrite_clients,
smtpd_recipient_restrictions, smtpd_milters, milter_default_action.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from mailsim.analysis.replay import Replay, forwards
from mailsim.config.mastercf import DEFAULT_MASTER_CF

SPARE_ADDRESSES = [f"203.0.113.{n}" for n in range(200, 250)] + [f"198.51.100.{n}" for n in range(200, 250)]
QUALIFIERS = {"fail": "-", "softfail": "~", "neutral": "?", "pass": "-", "temperror": "-", "permerror": "-"}
MILTER_SOCKETS = {"opendkim": "inet:localhost:8891", "openarc": "inet:localhost:8894",
                  "opendmarc": "inet:localhost:8893", "clamav": "unix:/clamav/clamav-milter.ctl"}  # fmt: skip
_LABEL = re.compile(r"[^a-z0-9-]+")


@dataclass
class Machine:
    """One host of the replayed path and what it must run."""

    name: str
    addresses: list[str]
    roles: list[str]
    hops: list[int] = field(default_factory=list)
    software: str = ""
    domains: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)
    tls_in: bool = False
    tls_out: bool = False
    spf_check: bool = False
    verify: bool = False
    dkim_sign: tuple[str, str] | None = None
    arc_seal: tuple[str, str] | None = None
    content_filter: str = ""


def host_name(text: str, address: str | None) -> str:
    """A usable DNS name for a host a header named (``[192.0.2.1]`` and ``unknown`` get one made up)."""
    name = text.strip().strip("[]").lower().rstrip(".")
    if not name or name in ("?", "unknown", "localhost") or _literal(name):
        base = (address or "0.0.0.0").replace(":", "-").replace(".", "-")
        return f"client-{base}.replay.example"
    labels = [_LABEL.sub("-", label).strip("-") or "x" for label in name.split(".")]
    return ".".join(labels)


def _literal(name: str | None) -> bool:
    """A valid IP address (headers may hold anything)."""
    try:
        ipaddress.ip_address(name or "")
    except ValueError:
        return False
    return True


def machines_of(replay: Replay) -> list[Machine]:
    """The path as machines, sending client first (see the module docstring)."""
    external = replay.external
    if not external:
        raise ValueError("every Received header is inside one machine: there is no path between hosts")
    first = external[0]
    addresses = [first.sender_ip] if first.sender_ip and _literal(first.sender_ip) else []
    client = Machine(host_name(first.sender, first.sender_ip), addresses, ["ua"])
    path = [client]
    for hop in external:
        name = host_name(hop.receiver, None)
        machine = next((m for m in path if m.name == name), None)
        if machine is None:
            machine = Machine(name, [], ["mta", "da"])
            path.append(machine)
        machine.hops.append(hop.number)
        machine.software = machine.software or (hop.software or "")
        machine.tls_in = machine.tls_in or hop.encrypted
        if hop.authenticated and "msa" not in machine.roles:
            machine.roles.insert(0, "msa")
        sender = next((m for m in path if m.name == host_name(hop.sender, hop.sender_ip)), None)
        if sender is not None:
            sender.tls_out = sender.tls_out or hop.encrypted
            ip = hop.sender_ip
            if ip and _literal(ip) and ip not in sender.addresses and "ua" not in sender.roles:
                sender.addresses.append(ip)
    _internal_hops(replay, path)
    _spare_addresses(path)
    return path


def _internal_hops(replay: Replay, path: list[Machine]) -> None:
    """A content filter (amavisd-new and its re-injection) on the machine the hops happened on."""
    for hop in replay.hops:
        if not hop.internal:
            continue
        text = f"{hop.software or ''} {hop.receiver}".lower()
        owner = next((m for m in path if m.name in (host_name(hop.sender, None), host_name(hop.receiver, None))), None)
        if owner is not None and ("amavis" in text or "10024" in text or hop.receiver.lower() == "localhost"):
            owner.content_filter = hop.software or "content filter"


def _spare_addresses(path: list[Machine]) -> None:
    used = {a for m in path for a in m.addresses}
    spare = (a for a in SPARE_ADDRESSES if a not in used)
    for machine in path:
        if not machine.addresses:
            machine.addresses.append(next(spare))


def plan(replay: Replay) -> tuple[list[Machine], dict[str, str], str, str]:
    """(machines, MX host by domain, sender, first recipient), with forwards and checks assigned."""
    path = machines_of(replay)
    by_hop = {number: m for m in path for number in m.hops}
    external = replay.external
    sender = replay.envelope_from or replay.from_address or f"sender@{path[1].name}"
    first_rcpt = external[0].recipient or (replay.to[0] if replay.to else f"postmaster@{path[-1].name}")
    mx: dict[str, str] = {}
    for hop in external:
        rcpt = hop.recipient or (replay.to[0] if replay.to else None)
        if rcpt and "@" in rcpt:
            mx[rcpt.rpartition("@")[2].lower()] = by_hop[hop.number].name
    for hop, old, new in forwards(replay):
        machine = by_hop[hop.number]
        machine.aliases[old.partition("@")[0].lower()] = new
        machine.domains.add(old.rpartition("@")[2].lower())
    final = external[-1].recipient or first_rcpt
    by_hop[external[-1].number].domains.add(final.rpartition("@")[2].lower())
    sender_domain = sender.rpartition("@")[2].lower()
    if external[0].authenticated:
        path[1].domains.add(sender_domain)
        mx.setdefault(sender_domain, path[1].name)
    _checks(replay, path, by_hop, sender_domain)
    return path, mx, sender, first_rcpt


def _checks(replay: Replay, path: list[Machine], by_hop: dict[int, Machine], sender_domain: str) -> None:
    """Who checks what, and who signs or seals, as the headers show it."""
    for finding in replay.findings:
        machine = by_hop.get(finding.hop) if finding.hop else None
        if machine is None:
            continue
        if finding.method == "spf" and finding.source == "Received-SPF":
            machine.spf_check = True
        elif finding.method in ("dkim", "dmarc", "arc", "spf") and finding.source == "Authentication-Results":
            machine.verify = True
            machine.spf_check = machine.spf_check or finding.method == "spf"
    msa = path[1] if len(path) > 1 else None
    for domain, selector in replay.dkim_signatures:
        if msa is not None and domain.lower() == sender_domain and msa.dkim_sign is None:
            msa.dkim_sign = (domain.lower(), selector or "mail")
    for domain, selector in replay.arc_sealers:
        sealer = next((m for m in path[1:] if m.name == domain or m.name.endswith("." + domain)), None)
        if sealer is not None and sealer.arc_seal is None:
            sealer.arc_seal = (domain.lower(), selector or "arc")


def write_scenario(replay: Replay, out: str | Path, *, source: str = "the message") -> Path:
    """Write the replayed path as a scenario folder at ``out`` (created; existing files are replaced)."""
    folder = Path(out)
    path, mx, sender, first_rcpt = plan(replay)
    (folder / "zones").mkdir(parents=True, exist_ok=True)
    domains = sorted(set(mx) | {sender.rpartition("@")[2].lower()})
    for domain in domains:
        (folder / "zones" / f"{domain}.zone").write_text(_zone(replay, domain, mx, sender), encoding="utf-8")
    for machine in path[1:]:
        _write_host(folder / "hosts" / machine.name, machine, replay, source)
    (folder / "scenario.toml").write_text(_scenario_toml(replay, path, domains, sender, first_rcpt, source),
                                          encoding="utf-8")  # fmt: skip
    from mailsim.analysis.replay import report

    (folder / "README.md").write_text(f"# Replay of {source}\n\n```\n{report(replay)}\n```\n", encoding="utf-8")
    return folder


def _zone(replay: Replay, domain: str, mx: dict[str, str], sender: str) -> str:
    lines = [f"; {domain}, as the replayed headers suggest it", f"$ORIGIN {domain}.", "$TTL 300",
             "@  IN SOA ns1 hostmaster 1 7200 900 1209600 300"]  # fmt: skip
    if domain in mx:
        lines.append(f"@  IN MX 10 {mx[domain]}.")
    if domain == sender.rpartition("@")[2].lower():
        spf = [f for f in replay.findings if f.method == "spf"]
        if spf:
            qualifier = QUALIFIERS.get(spf[0].result, "-")
            lines.append(
                f"; guessed: {spf[0].result} at hop {spf[0].hop} is what 'mx {qualifier}all' gives a forwarder"
            )
            lines.append(f'@  IN TXT "v=spf1 mx {qualifier}all"')
        if replay.dmarc_policy:
            lines.append(f'_dmarc  IN TXT "v=DMARC1; p={replay.dmarc_policy}"')
    return "\n".join(lines) + "\n"


def _scenario_toml(replay: Replay, path: list[Machine], domains: list[str], sender: str, rcpt: str, source: str) -> str:
    first_date = next((hop.date for hop in replay.hops if hop.date is not None), None)
    epoch = (first_date - timedelta(seconds=10)).isoformat() if first_date else "2026-01-05T09:00:00+00:00"
    client, msa = path[0], path[1]
    via = "submission" if replay.external[0].authenticated else "smtp"
    final = replay.external[-1].recipient or rcpt
    out = [f"# Replayed by `mailsim replay` from {source}: the Received chain, bottom-up, as hosts and links.",
           "# Everything here is editable; comments mark what the headers could not say.",
           'name = "replay"', f'description = {_q("Path of " + (replay.subject or "a message"))}', "seed = 1",
           'until = "1h"', 'fidelity = "wire"', f'epoch = "{epoch}"', "", "hosts = ["]  # fmt: skip
    for machine in path:
        config = f', config = "hosts/{machine.name}"' if "ua" not in machine.roles else ""
        roles = ", ".join(f'"{r}"' for r in machine.roles)
        addresses = ", ".join(f'"{a}"' for a in machine.addresses)
        out.append(f'  {{ name = "{machine.name}", addresses = [{addresses}], roles = [{roles}]{config} }},')
    out += ["]", 'routers = [ { name = "internet" } ]', "links = ["]
    out += [f'  {{ a = "{m.name}", b = "internet", latency = "10ms" }},' for m in path]
    zones = ", ".join(f'"zones/{d}.zone"' for d in domains)
    out += ["]", "", "[dns]", f"zones = [{zones}]", 'latency = "2ms"', ""]
    out += ["[[users]]", f'address = "{sender}"', 'password = "replay-secret"', f'host = "{client.name}"', ""]
    out += ["[[users]]", f'address = "{final}"', ""]
    out += ["[[messages]]", 'at = "10s"', f'from = "{sender}"', f'to = ["{rcpt}"]', f"subject = {_q(replay.subject)}",
            f"size = {max(replay.body_size, 1)}", f'via = "{via}"', f'client = "{client.name}"', f'server = "{msa.name}"']  # fmt: skip
    return "\n".join(out) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _write_host(folder: Path, machine: Machine, replay: Replay, source: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    labels = machine.name.split(".")
    mydomain = ".".join(labels[1:]) if len(labels) > 2 else machine.name
    extra = "".join(f", {d}" for d in sorted(machine.domains))
    hops = ", ".join(str(n) for n in machine.hops)
    lines = [f"# {machine.name}: receiver of hop {hops} of {source}" + (f" ({machine.software})" if machine.software else ""),
             "compatibility_level = 3.6", f"myhostname = {machine.name}", f"mydomain = {mydomain}",
             "myorigin = $mydomain", f"mydestination = $myhostname, localhost.$mydomain, localhost{extra}",
             "alias_maps = hash:/etc/aliases"]  # fmt: skip
    if machine.tls_in:
        lines.append("smtpd_tls_security_level = may")
    if machine.tls_out:
        lines.append("smtp_tls_security_level = may")
    if "msa" in machine.roles:
        lines.append("local_header_rewrite_clients = permit_inet_interfaces, permit_sasl_authenticated")
    if machine.spf_check:
        lines.append("smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,\n"
                     "    check_policy_service unix:private/policyd-spf")  # fmt: skip
        _write_spf(folder)
    milters = _write_milters(folder, machine)
    if milters:
        lines += [f"smtpd_milters = {', '.join(milters)}", "milter_default_action = accept"]
    (folder / "main.cf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    aliases = ["mailer-daemon: /dev/null", "postmaster: root", "root: /var/mail/root"]
    aliases += [f"{local}: {target}" for local, target in sorted(machine.aliases.items())]
    (folder / "aliases").write_text("\n".join(aliases) + "\n", encoding="utf-8")


def _write_spf(folder: Path) -> None:
    master = DEFAULT_MASTER_CF.rstrip("\n") + (
        "\npolicyd-spf  unix  -       n       n       -       0       spawn\n"
        "  user=policyd-spf argv=/usr/bin/policyd-spf\n"
    )
    (folder / "master.cf").write_text(master, encoding="utf-8")
    (folder / "policyd-spf.conf").write_text(
        "# The receiver recorded SPF without refusing the message: header only.\n"
        "HELO_reject = False\nMail_From_reject = False\n", encoding="utf-8",
    )  # fmt: skip


def _write_milters(folder: Path, machine: Machine) -> list[str]:
    """The milter configuration files of a machine, and its smtpd_milters in order."""
    milters: list[str] = []
    if machine.content_filter:
        (folder / "clamav-milter.conf").write_text(
            f"# Stands in for the content filter the headers show: {machine.content_filter}\n"
            "MilterSocket /var/spool/postfix/clamav/clamav-milter.ctl\nOnInfected Quarantine\nAddHeader Replace\n",
            encoding="utf-8",
        )  # fmt: skip
        milters.append(MILTER_SOCKETS["clamav"])
    if machine.dkim_sign or machine.verify or machine.arc_seal:
        sign = machine.dkim_sign
        conf = ["Socket inet:8891@localhost", f"Mode {'sv' if sign else 'v'}", f"AuthservID {machine.name}"]
        if sign:
            conf += ["# a new key: the original private key is not in the message", f"Domain {sign[0]}",
                     f"Selector {sign[1]}", "Canonicalization relaxed/simple"]  # fmt: skip
        (folder / "opendkim.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")
        milters.append(MILTER_SOCKETS["opendkim"])
    if machine.verify or machine.arc_seal:
        seal = machine.arc_seal
        conf = ["Socket inet:8894@localhost", f"AuthservID {machine.name}"]
        conf += [f"Mode sv\nDomain {seal[0]}\nSelector {seal[1]}"] if seal else ["Mode v", "FinalReceiver yes"]
        (folder / "openarc.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")
        milters.append(MILTER_SOCKETS["openarc"])
    if machine.verify:
        (folder / "opendmarc.conf").write_text(
            f"Socket inet:8893@localhost\nAuthservID {machine.name}\nSPFSelfValidate true\n"
            "# the original receiver delivered the message: record, do not reject\nRejectFailures false\n",
            encoding="utf-8",
        )  # fmt: skip
        milters.append(MILTER_SOCKETS["opendmarc"])
    return milters
