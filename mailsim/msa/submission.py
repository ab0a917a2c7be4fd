"""The mail submission agent: Postfix's smtpd on port 587 with the submission configuration (RFC 6409).

The seed: "the MSA is really just the MTA listening on a different port with a different
configuration". In Postfix that is one master.cf stanza: ``submission inet n - y - - smtpd`` with
``-o`` overrides that demand TLS, enable SASL and relay for authenticated clients only. A host
with the ``msa`` role whose master.cf has no submission service gets this stanza (Debian's,
uncommented), so port 25 keeps the MTA's own rules and "incoming vs outbound" is decided by the
port. Header grooming (missing Message-ID and Date, unqualified From completed with $myorigin, the
Received line ``with ESMTPSA``) is cleanup's job for clients that match local_header_rewrite_clients,
which the stanza extends to authenticated clients.

Parameters set on the service: syslog_name, smtpd_tls_security_level=encrypt,
smtpd_sasl_auth_enable=yes, smtpd_tls_auth_only=yes, smtpd_reject_unlisted_recipient=no,
smtpd_relay_restrictions=permit_sasl_authenticated,reject,
local_header_rewrite_clients=permit_inet_interfaces,permit_sasl_authenticated.
"""

from __future__ import annotations

from mailsim.config.loader import HostConfig
from mailsim.config.maincf import parse_main_cf
from mailsim.config.mastercf import parse_master_cf

SUBMISSION_PORT = 587  # RFC 6409 §3.1 (the seed's "597" is a typo)
SUBMISSION_STANZA = """submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o local_header_rewrite_clients=permit_inet_interfaces,permit_sasl_authenticated
"""


def has_submission(config: HostConfig) -> bool:
    """Whether master.cf already runs smtpd on the submission port."""
    for service in config.master.services():
        if service.type == "inet" and service.command == "smtpd":
            _, port = service.listen(config.main.get("known_tcp_ports"))
            if port == SUBMISSION_PORT:
                return True
    return False


def with_submission(config: HostConfig, master_text: str) -> HostConfig:
    """The host's configuration with the submission stanza added to master.cf (if it lacks one)."""
    if has_submission(config):
        return config
    file = str(config.folder / "master.cf") if config.folder else "master.cf"
    master = parse_master_cf(master_text.rstrip("\n") + "\n" + SUBMISSION_STANZA, file=file)
    text = "".join(f"{name} = {value}\n" for name, value in config.main.explicit().items())
    main = parse_main_cf(text, file=config.main.file, host=config.main.host, master=master)
    return HostConfig(main, master, config.folder)
