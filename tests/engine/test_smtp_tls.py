"""Per-scenario certificates: one CA, a certificate per host, contexts built once, sizes that never vary."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from cryptography.hazmat.primitives import serialization

from mailsim.engine.tls import TlsAuthority


@pytest.fixture(scope="module")
def authority() -> TlsAuthority:
    return TlsAuthority()


def test_contexts_are_built_once(authority: TlsAuthority) -> None:
    assert authority.server_context("mx.example") is authority.server_context("mx.example")
    assert authority.client_context() is authority.client_context()
    assert authority.client_context(verify=True) is not authority.client_context()


def test_certificate_sizes_do_not_depend_on_the_random_keys(authority: TlsAuthority) -> None:
    other = TlsAuthority()
    for name in ("mx.example", "mail.example.org"):
        mine = authority.certificate(name).public_bytes(serialization.Encoding.DER)
        theirs = other.certificate(name).public_bytes(serialization.Encoding.DER)
        assert len(mine) == len(theirs)
    assert authority.certificate("mx.example").serial_number == other.certificate("mx.example").serial_number


@pytest.mark.live
def test_a_verifying_client_accepts_the_right_name_only(authority: TlsAuthority) -> None:
    async def handshake(name: str) -> str:
        server = await asyncio.start_server(
            lambda r, w: w.close(), "127.0.0.1", 0, ssl=authority.server_context("mx.example")
        )
        port = server.sockets[0].getsockname()[1]
        try:
            _, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=authority.client_context(verify=True), server_hostname=name
            )
            version = writer.get_extra_info("ssl_object").version()
            writer.close()
            return version
        finally:
            server.close()

    assert asyncio.run(handshake("mx.example")) == "TLSv1.3"
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(handshake("other.example"))


def test_a_starttls_session_gives_the_same_trace_with_other_random_keys() -> None:
    from mailsim.engine.client import Credentials, StartTls
    from mailsim.engine.transcript import trace_sink
    from tests.engine.smtp_support import RelayControl, plan, settings, virtual_deliver, world_with_server

    def digest() -> str:
        authority = TlsAuthority()
        server = settings(tls_context=authority.server_context("mx.example"), auth_enabled=True, auth_require_tls=True)
        world, _ = world_with_server(server, RelayControl({"alice": "pw"}), transcripts=None)
        sink = trace_sink(world.sim)
        tls = dict(
            starttls=StartTls.ENCRYPT, tls_context=authority.client_context(), credentials=Credentials("alice", "pw")
        )
        result = virtual_deliver(world, plan(["x@far.example"], **tls), transcripts=sink, host="client")
        assert result.authenticated
        world.sim.run(until=world.sim.now + 1)
        return world.sim.trace.digest()

    assert digest() == digest()
