"""A message accepted into a queue is never silently lost: it ends delivered, bounced, or still queued.

Random scenarios mix good, unknown and undeliverable recipients, an MX outage and a damaged queue
file; for every queue file that appeared on any host, the trace must show it leave through a final
state, or the file must still be in one of the host's queues (deferred, hold, corrupt, ...).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailsim.api import run
from tests.mta.worlds import two_hosts

RECIPIENTS = ["bob@example.net", "ghost@example.net", "alice@example.org", "someone@example.invalid", "root@example.net"]
TERMINAL = {"delivered", "bounced", "expired", "deleted"}

messages = st.lists(
    st.tuples(st.integers(1, 600), st.lists(st.sampled_from(RECIPIENTS), min_size=1, max_size=3, unique=True)),
    min_size=1, max_size=6,
)  # fmt: skip


def _body(batch, outage, damage_at) -> str:
    text = ""
    for at, rcpts in batch:
        text += (f'[[messages]]\nat = "{at}s"\nfrom = "alice@example.org"\nto = {rcpts!r}\n'
                 'via = "sendmail"\nserver = "mail.example.org"\n').replace("'", '"')  # fmt: skip
    if outage:
        start, length = outage
        text += f'[[faults]]\nkind = "host-down"\nhost = "mx.example.net"\nat = "{start}s"\nuntil = "{start + length}s"\n'
    return text


def _damage_one(at: float):
    def prepare(world):
        host = world.hosts["mail.example.org"]

        def damage(env):
            yield env.timeout(at)
            for qf in list(host.queue):
                if qf.state.value in ("incoming", "deferred"):
                    host.queue.damage(qf.queue_id)
                    return

        world.sim.env.process(damage(world.sim.env))

    return prepare


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batch=messages,
    outage=st.none() | st.tuples(st.integers(0, 900), st.integers(60, 3000)),
    damage_at=st.none() | st.integers(1, 1800),
)
def test_every_accepted_message_is_delivered_bounced_or_still_queued(tmp_path_factory, batch, outage, damage_at):
    folder = tmp_path_factory.mktemp("conservation")
    spec = two_hosts(folder, _body(batch, outage, damage_at), until="2h",
                     receiver_main="compatibility_level = 3.6\nmyhostname = mx.example.net\nmydestination = $myhostname, example.net\n")  # fmt: skip
    (folder / "hosts/mx/aliases").write_text("root: bob\n")
    (folder / "hosts/mail/aliases").write_text("postmaster: alice\n")
    result = run(spec, prepare=_damage_one(damage_at) if damage_at else None)
    for name, host in result.world.hosts.items():
        entered = {r.queue_id for r in result.trace.select("queue", host=name) if r.get("src") is None}
        left = {r.queue_id for r in result.trace.select("queue", host=name) if r.get("final") in TERMINAL}
        still = set(host.queue.files)
        lost = entered - left - still
        assert not lost, f"{name}: queue files that vanished: {sorted(lost)}"
        assert not (left & still), f"{name}: files both finished and still queued"


def test_a_queue_file_cut_in_half_goes_to_the_corrupt_queue(tmp_path):
    spec = two_hosts(
        tmp_path,
        '[[faults]]\nkind = "host-down"\nhost = "mx.example.net"\nat = "0s"\n'
        '[[messages]]\nat = "1s"\nfrom = "alice@example.org"\nto = ["bob@example.net"]\nvia = "sendmail"\n'
        'server = "mail.example.org"\n',
        until="1h",
    )
    result = run(spec, prepare=_damage_one(100))
    host = result.world.hosts["mail.example.org"]
    [qf] = list(host.queue)
    assert qf.state.value == "corrupt"
    [warning] = result.trace.select("warning", host="mail.example.org", service="qmgr")
    assert warning.get("text").startswith(f'saving corrupt file "{qf.queue_id}" from queue "deferred" to queue "corrupt"')
