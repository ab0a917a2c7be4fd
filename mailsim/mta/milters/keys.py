"""Signing keys of a host's milters: read from the files their configuration names, or generated.

opendkim.conf's ``KeyFile`` (openarc.conf's too) names a PEM private key. The path is read inside
the host folder (``/etc/opendkim/keys/mail.private`` is ``hosts/<name>/etc/opendkim/keys/mail.private``;
a relative path is relative to the folder), so a scenario that ships its keys signs byte-identically
on every run. Without the file a key is generated once per (domain, selector) by the host's
:class:`~mailsim.policy.auth.keys.KeyRing`. Either way the world publishes the public key as
``selector._domainkey.domain TXT "v=DKIM1; k=...; p=..."`` before time starts
(:func:`publish_dkim_keys`), unless the scenario's zones already answer for that name (a scenario
may publish a wrong or revoked key on purpose).

Postfix parameters read: none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailsim.core.errors import ConfigError
from mailsim.mta.milters.base import DaemonContext
from mailsim.mta.milters.conf import DaemonConf
from mailsim.policy.auth.keys import DkimKey, key_from_pem

ALGORITHMS = {"rsa-sha256": "rsa", "ed25519-sha256": "ed25519"}


def host_path(folder: Path, name: str) -> Path:
    """A file named in a daemon's configuration, inside the host folder."""
    return Path(folder) / name.lstrip("/")


def signing_key(context: DaemonContext, conf: DaemonConf, domain: str, selector: str, algorithm: str) -> DkimKey:
    """The key ``KeyFile`` names, or the host's generated key for (domain, selector)."""
    name = conf.get("KeyFile")
    if name is not None:
        path = host_path(context.folder, name)
        if path.is_file():
            try:
                key = key_from_pem(domain, selector, path.read_bytes())
            except (ValueError, TypeError) as error:
                raise conf.error("KeyFile", "a PEM private key (RSA or Ed25519)", f"{name} ({error})") from None
            context.keys.add(key)
            return key
    kind = ALGORITHMS[algorithm]
    return context.keys.get(domain, selector, kind)  # type: ignore[no-any-return]


def algorithm_of(conf: DaemonConf) -> str:
    return conf.choice("SignatureAlgorithm", "rsa-sha256", ALGORITHMS)


def publish_dkim_keys(world: Any) -> None:
    """A role builder: every host's signing keys into the world's DNS (see the module docstring)."""
    claimed: dict[str, tuple[str, str]] = {}
    for name, host in world.hosts.items():
        daemons = getattr(host, "daemons", None)
        for key in daemons.keys() if daemons is not None else ():
            record = key.record_name
            if record in claimed and claimed[record][1] != key.txt_record:
                raise ConfigError(
                    "two different keys for one selector", key=record,
                    expected=f"the key of {claimed[record][0]}", found=f"another key on {name}",
                )  # fmt: skip
            claimed[record] = (name, key.txt_record)
    for record, (_, text) in claimed.items():
        if str(world.zones.answer(record, "TXT").status) != "NOERROR":
            world.zones.add_record(record, "TXT", text)
