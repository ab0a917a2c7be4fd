"""Content filters the seed names, as milters beside Postfix: antivirus, spam score, DLP, forgery signals, footers.

Each is configured by a file in the host folder and reached through its ``Socket`` from
``smtpd_milters``/``non_smtpd_milters`` (see :mod:`mailsim.mta.milters`):

- :mod:`~mailsim.mta.filters.antivirus` - ``clamav-milter.conf``: EICAR and configured signatures;
- :mod:`~mailsim.mta.filters.spam` - ``spamass-milter.conf``: a SpamAssassin-style score and X-Spam-* headers;
- :mod:`~mailsim.mta.filters.dlp` - ``dlp-milter.conf``: pattern rules on outgoing mail that block, hold or flag;
- :mod:`~mailsim.mta.filters.forgery` - ``forgery-milter.conf``: "From domain not aligned" and similar signals;
- :mod:`~mailsim.mta.filters.disclaimer` - ``disclaimer-milter.conf``: a footer or banner that edits the body.
"""
