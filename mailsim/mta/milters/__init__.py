"""Milters and other daemons beside Postfix: opendkim, openarc, opendmarc, postsrsd and the content filters.

Postfix parameters read: smtpd_milters, non_smtpd_milters, milter_default_action,
milter_macro_daemon_name, internal_mail_filter_classes (see :mod:`~mailsim.mta.milters.daemons`).

- :mod:`~mailsim.mta.milters.base` - what a milter sees (:class:`MilterMessage`) and answers (:class:`MilterVerdict`);
- :mod:`~mailsim.mta.milters.chain` - a milter list run at the end of a message, milter_default_action;
- :mod:`~mailsim.mta.milters.daemons` - the daemons of a host, found by their configuration files;
- :mod:`~mailsim.mta.milters.opendkim`, :mod:`~mailsim.mta.milters.openarc`, :mod:`~mailsim.mta.milters.opendmarc`
  - sender authentication as the Debian packages do it;
- :mod:`~mailsim.mta.milters.postsrsd` - SRS through ``tcp:`` canonical maps;
- :mod:`~mailsim.mta.milters.keys` - signing keys, and publishing them in the world's DNS;
- :mod:`mailsim.mta.filters` - antivirus, spam, DLP, forgery signals, disclaimers.

Import :class:`~mailsim.mta.milters.daemons.Daemons` and
:func:`~mailsim.mta.milters.keys.publish_dkim_keys` from their modules: this package's ``__init__``
stays empty of imports so that the filters, which use the milter records, can be imported first.
"""
