"""`newsletter serve` refuses what cannot work with one line and exit 2, before it listens."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys

import pytest


def serve(publication, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    return subprocess.run([sys.executable, "-m", "newsletter", "serve", *args], cwd=publication, env=environment,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case,expected", [
    ("port in use", "serve: cannot listen on 127.0.0.1:{port}: Address already in use"),
    ("bad webhook key", "NEWSLETTER_SENDGRID_WEBHOOK_KEY: not a public key"),
    ("rsa webhook key", "NEWSLETTER_SENDGRID_WEBHOOK_KEY: not an ECDSA P-256 public key"),
    ("no smtp url", "settings: provider smtp needs NEWSLETTER_SMTP_URL"),
    ("port out of range", "Invalid value for '--port'"),
])
def test_what_cannot_work_is_one_line_and_exit_2(publication, case, expected):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args, env = ["--port", str(port)], {}
        if case == "bad webhook key":
            env["NEWSLETTER_SENDGRID_WEBHOOK_KEY"] = "bm90IGEga2V5"
        elif case == "rsa webhook key":
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            der = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            env["NEWSLETTER_SENDGRID_WEBHOOK_KEY"] = base64.b64encode(der).decode()
        elif case == "no smtp url":
            env["NEWSLETTER_PROVIDER"] = "smtp"
        elif case == "port out of range":
            args = ["--port", "99999"]
        result = serve(publication, *args, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    if case == "port out of range":  # Typer's usage error, in its small box
        assert expected in result.stderr
    else:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected.format(port=port)), result.stderr
