"""L1: the mail vocabulary every agent shares (DESIGN.md §2).

Envelopes and ESMTP parameters (:mod:`~mailsim.mail.envelope`, :mod:`~mailsim.mail.address`),
message content (:mod:`~mailsim.mail.message`), Received trace headers
(:mod:`~mailsim.mail.received`), SMTP replies and their catalogue (:mod:`~mailsim.mail.reply`,
:mod:`~mailsim.mail.enhanced`), DSNs (:mod:`~mailsim.mail.dsn`), queue files, queue IDs and their
life cycle (:mod:`~mailsim.mail.queuefile`, :mod:`~mailsim.mail.queueid`,
:mod:`~mailsim.mail.postcat`), delivery requests and outcomes (:mod:`~mailsim.mail.delivery`).
Imports only :mod:`mailsim.core` and the standard library.
"""

from mailsim.mail.address import (
    NULL_SENDER,
    domain_of,
    is_null_sender,
    is_valid_mailbox,
    local_part,
    normalize_address,
    same_address,
    split_address,
    strip_angles,
    with_angles,
    xtext_decode,
    xtext_encode,
)
from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus, recipient_transition
from mailsim.mail.dsn import (
    Action,
    DsnRecipient,
    DsnReport,
    ParsedDsn,
    ReportKind,
    build_dsn,
    dsn_recipient,
    parse_dsn,
    render_dsn,
)
from mailsim.mail.enhanced import ENHANCED_MEANING, explain
from mailsim.mail.envelope import (
    Body,
    Envelope,
    MailParams,
    Notify,
    RcptDsn,
    Ret,
    parse_mail_options,
    parse_rcpt_options,
)
from mailsim.mail.message import (
    MAIL_POLICY,
    as_bytes,
    build_message,
    format_date,
    make_message_id,
    message_defects,
    message_size,
    parse_message,
    postfix_date,
    prepend_header,
)
from mailsim.mail.postcat import render_postcat
from mailsim.mail.queuefile import CorruptQueueFile, QueueFile, QueueRecipient, QueueState, transition
from mailsim.mail.queueid import long_queue_id, new_queue_id, short_queue_id
from mailsim.mail.received import (
    ReceivedHop,
    TlsInfo,
    local_received,
    parse_received,
    received_chain,
    received_header,
    with_protocol,
)
from mailsim.mail.reply import Reply, classify

__all__ = [
    "ENHANCED_MEANING",
    "MAIL_POLICY",
    "NULL_SENDER",
    "Action",
    "Body",
    "CorruptQueueFile",
    "DeliverRequest",
    "DeliveryStatus",
    "DsnRecipient",
    "DsnReport",
    "Envelope",
    "MailParams",
    "Notify",
    "ParsedDsn",
    "QueueFile",
    "QueueRecipient",
    "QueueState",
    "RcptDsn",
    "ReceivedHop",
    "RecipientStatus",
    "Reply",
    "ReportKind",
    "Ret",
    "TlsInfo",
    "as_bytes",
    "build_dsn",
    "build_message",
    "classify",
    "domain_of",
    "dsn_recipient",
    "explain",
    "format_date",
    "is_null_sender",
    "is_valid_mailbox",
    "local_part",
    "local_received",
    "long_queue_id",
    "make_message_id",
    "message_defects",
    "message_size",
    "new_queue_id",
    "normalize_address",
    "parse_dsn",
    "parse_mail_options",
    "parse_message",
    "parse_rcpt_options",
    "parse_received",
    "postfix_date",
    "prepend_header",
    "received_chain",
    "received_header",
    "recipient_transition",
    "render_dsn",
    "render_postcat",
    "same_address",
    "short_queue_id",
    "split_address",
    "strip_angles",
    "transition",
    "with_angles",
    "with_protocol",
    "xtext_decode",
    "xtext_encode",
]
