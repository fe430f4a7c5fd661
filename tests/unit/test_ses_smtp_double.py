"""The SES SMTP double itself: it must refuse what SES refuses, or relay tests prove nothing."""
from __future__ import annotations

import base64
import smtplib
import socket
import ssl

import pytest

from tests.doubles.ses_smtp_double import SesSmtpDouble, endpoint_name, ses_smtp_password

REGION = "eu-west-1"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MSG = "From: shop@shop.example\r\nTo: ops@example.org\r\nSubject: double test\r\n\r\nhello\r\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def double(tmp_path_factory):
    base = tmp_path_factory.mktemp("ses-double")
    d = SesSmtpDouble(
        host="127.0.0.1", port=_free_port(), region=REGION, credentials={KEY_ID: SECRET},
        tls_dir=base / "tls", store=base / "store", verified_domains=("shop.example",),
    )
    with d:
        yield d


def _client(double) -> smtplib.SMTP:
    c = smtplib.SMTP("127.0.0.1", double.port, timeout=10)
    c._host = endpoint_name(REGION)  # TLS hostname check against the endpoint name, as postfix does
    c.ehlo("client.test")
    return c


def _tls(double, c: smtplib.SMTP) -> None:
    ctx = ssl.create_default_context(cafile=str(double.tls["ca"]))
    code, _ = c.starttls(context=ctx)
    assert code == 220
    c.ehlo("client.test")


def test_auth_not_offered_nor_accepted_before_starttls(double):
    c = _client(double)
    assert "starttls" in c.esmtp_features
    assert "auth" not in c.esmtp_features
    creds = base64.b64encode(f"\0{KEY_ID}\0{ses_smtp_password(SECRET, REGION)}".encode()).decode()
    code, msg = c.docmd("AUTH", "PLAIN " + creds)
    assert code in (530, 538), msg  # 530 "STARTTLS first" / 538 "encryption required"
    code, _ = c.docmd("MAIL FROM:<shop@shop.example>")
    assert code == 530
    c.quit()


def test_tls_certificate_is_for_the_endpoint_and_rejected_without_the_ca(double):
    c = _client(double)
    with pytest.raises(ssl.SSLCertVerificationError):
        c.starttls(context=ssl.create_default_context())  # system CAs do not know the test CA
    c.close()


@pytest.mark.parametrize(
    ("user", "password"),
    [
        (KEY_ID, "not-the-password"),
        (KEY_ID, ses_smtp_password(SECRET, "us-east-1")),  # right secret, wrong region
        (KEY_ID, SECRET),  # the raw secret is not the SMTP password
        ("AKIAUNKNOWNKEY000000", ses_smtp_password(SECRET, REGION)),
    ],
)
def test_bad_credentials_get_535(double, user, password):
    c = _client(double)
    _tls(double, c)
    assert {"PLAIN", "LOGIN"} <= set(c.esmtp_features["auth"].split())
    with pytest.raises(smtplib.SMTPAuthenticationError) as err:
        c.login(user, password)
    assert err.value.smtp_code == 535
    c.quit()


def test_good_credentials_accepted_and_stored(double):
    before = len(double.messages())
    c = _client(double)
    _tls(double, c)
    c.login(KEY_ID, ses_smtp_password(SECRET, REGION))
    c.sendmail("shop@shop.example", ["ops@example.org"], MSG)
    c.quit()
    msgs = double.messages()
    assert len(msgs) == before + 1
    m = msgs[-1]
    assert m["auth_user"] == KEY_ID and m["tls"] is True and m["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert m["mail_from"] == "shop@shop.example" and m["rcpt_tos"] == ["ops@example.org"]
    assert "Subject: double test" in m["data"]


def test_unauthenticated_and_unverified_senders_rejected(double):
    c = _client(double)
    _tls(double, c)
    code, _ = c.docmd("MAIL FROM:<shop@shop.example>")
    assert code == 530  # authentication required
    c.login(KEY_ID, ses_smtp_password(SECRET, REGION))
    code, msg = c.docmd("MAIL FROM:<root@web-1.internal>")
    assert code == 554 and b"not verified" in msg
    c.quit()
