"""Delivery requests and per-recipient outcomes, and the per-recipient status table."""

from __future__ import annotations

import pytest

from mailsim.core.errors import SimulationError
from mailsim.mail import reply as R
from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus, recipient_transition
from mailsim.mail.queuefile import QueueRecipient, QueueState

D = DeliveryStatus


@pytest.mark.parametrize(
    ("reply", "status"),
    [(R.queued("ABC"), D.SENT), (R.relay_deferred("b@x.example"), D.DEFERRED), (R.user_unknown("b@x.example"), D.BOUNCED)],
)  # fmt: skip
def test_reply_class_decides_the_outcome(reply, status):
    outcome = RecipientStatus.from_reply("b@x.example", reply, host="mx.x.example", address="192.0.2.1",
                                         command="RCPT TO")  # fmt: skip
    assert outcome.status is status and outcome.dsn == reply.status
    assert outcome.relay == "mx.x.example[192.0.2.1]:25"
    assert outcome.final is (status is not D.DEFERRED)


def test_refusal_reason_quotes_the_remote_server():
    outcome = RecipientStatus.from_reply("b@x.example", R.user_unknown("b@x.example"), host="mx.x.example",
                                         address="192.0.2.1", command="RCPT TO")  # fmt: skip
    assert outcome.reason.startswith("host mx.x.example[192.0.2.1] said: 550 5.1.1 <b@x.example>:")
    assert outcome.reason.endswith("(in reply to RCPT TO command)")


def test_recipient_status_table():
    assert recipient_transition(D.QUEUED, D.DEFERRED) is D.DEFERRED
    assert recipient_transition(D.DEFERRED, D.SENT) is D.SENT
    with pytest.raises(SimulationError):
        recipient_transition(D.SENT, D.BOUNCED)  # delivered twice is a model bug
    with pytest.raises(ValueError):
        RecipientStatus("b@x.example", D.QUEUED, "4.0.0", "not an outcome")


def test_deliver_request_groups_recipients_for_one_destination():
    request = DeliverRequest(
        "8AE9820C3AB", QueueState.ACTIVE, "smtp", "example.net", "alice@example.org",
        (QueueRecipient("bob@example.net"), QueueRecipient("carol@example.net")), 12.0, 418,
    )  # fmt: skip
    assert request.addresses == ("bob@example.net", "carol@example.net")
    with pytest.raises(ValueError):
        DeliverRequest("Q", QueueState.ACTIVE, "smtp", "x", "a@b", (), 0.0, 0)
