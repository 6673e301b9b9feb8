"""The SMTP provider against a real SMTP server (aiosmtpd): parallel reused connections,
STARTTLS + AUTH, a refused recipient failing alone, DKIM that verifies."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess

import pytest

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from newsletter.providers import AuthError  # noqa: E402
from newsletter.providers.smtp import DkimKey, SmtpProvider, SmtpTarget  # noqa: E402

from ..standins.smtp import Sink, free_port  # noqa: E402
from .conftest import recipient  # noqa: E402


@pytest.fixture
def sink():
    handler = Sink(refuse={"ann3@example.com"})
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def test_url_parsing():
    t = SmtpTarget.parse("smtp://us%40er:p%3Ass@mail.example:2525?starttls=1")
    assert (t.host, t.port, t.username, t.password, t.starttls, t.tls) == ("mail.example", 2525, "us@er", "p:ss", True, False)
    assert SmtpTarget.parse("smtps://mail.example").port == 465
    with pytest.raises(ValueError):
        SmtpTarget.parse("http://mail.example")


def test_sends_each_recipient_over_a_few_reused_connections_and_one_refusal_fails_alone(sink, mailing):
    handler, port = sink
    recipients = [recipient(n) for n in range(1, 21)]
    with SmtpProvider(f"smtp://127.0.0.1:{port}", connections=3) as smtp:
        results = smtp.send(mailing, recipients)
        results += smtp.send(mailing, [recipient(n) for n in range(21, 31)])
    by_email = {r.recipient.email: r for r in results}
    assert not by_email["ann3@example.com"].ok
    assert by_email["ann3@example.com"].error.startswith("550 5.1.1 No such user")
    assert not by_email["ann3@example.com"].transient
    assert sum(r.ok for r in results) == 29
    assert len(handler.messages) == 29
    assert len(handler.peers) <= 3  # connections were reused across messages and batches
    sender, rcpts, raw = handler.messages[0]
    assert sender == "letters@thelongtake.example" and len(rcpts) == 1
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_body(("plain",)).get_content().count(rcpts[0]) >= 1


def test_a_dead_server_makes_every_recipient_transient(mailing):
    with SmtpProvider(f"smtp://127.0.0.1:{free_port()}", connections=2, timeout=2) as smtp:
        results = smtp.send(mailing, [recipient(n) for n in range(1, 5)])
    assert all(not r.ok and r.transient and "connection" in r.error for r in results)


@pytest.fixture
def tls_files(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


def test_starttls_and_login(tls_files, mailing, monkeypatch):
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"editor" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True, server_hostname="localhost")
    controller.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate, as a system CA would
    try:
        with SmtpProvider(f"smtp://editor:s3cret@localhost:{port}?starttls=1") as smtp:
            assert smtp.send(mailing, [recipient(1)])[0].ok
        assert len(handler.messages) == 1
        with SmtpProvider(f"smtp://editor:wrong@localhost:{port}?starttls=1") as smtp:
            with pytest.raises(AuthError, match="refused the login"):
                smtp.send(mailing, [recipient(2)])
    finally:
        controller.stop()


def test_dkim_signature_covers_list_unsubscribe_and_verifies(sink, mailing, tmp_path):
    dkim = pytest.importorskip("dkim")
    handler, port = sink
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    import base64
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    with SmtpProvider(f"smtp://127.0.0.1:{port}", dkim=DkimKey("nl", "thelongtake.example", key.read_bytes())) as smtp:
        assert smtp.send(mailing, [recipient(1)])[0].ok
    raw = handler.messages[0][2]
    signature = email.message_from_bytes(raw)["DKIM-Signature"]
    signed = signature.replace(" ", "").replace("\r\n", "").replace("\t", "").split("h=")[1].split(";")[0].lower()
    assert "list-unsubscribe" in signed.split(":") and "list-unsubscribe-post" in signed.split(":")
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record if name == b"nl._domainkey.thelongtake.example." else None)


class SlowSink(Sink):
    """Keeps the message, then answers too late."""

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        result = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(2.5)
        return result


def test_a_lost_answer_after_the_message_went_out_is_in_doubt_not_retried(mailing):
    handler = SlowSink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with SmtpProvider(f"smtp://127.0.0.1:{controller.port}", connections=1, timeout=1) as smtp:
            results = smtp.send(mailing, [recipient(1), recipient(2)])
    finally:
        controller.stop()
    first, second = results
    assert first.in_doubt and not first.ok and not first.transient
    assert "no answer from the SMTP server after the message was sent" in first.error
    assert second.transient and not second.in_doubt  # never handed over: safe to retry
    assert len(handler.messages) == 1  # the server did get the first one


def test_starttls_the_server_cannot_do_is_a_setup_error(sink, mailing):
    from newsletter.providers import SetupError

    _, port = sink
    with SmtpProvider(f"smtp://127.0.0.1:{port}?starttls=1") as smtp:
        with pytest.raises(SetupError, match="cannot do what NEWSLETTER_SMTP_URL asks"):
            smtp.send(mailing, [recipient(1)])
