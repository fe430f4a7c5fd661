"""The SES SMTP double itself: it must refuse what SES refuses, or relay tests prove nothing."""
from __future__ import annotations

import base64
import smtplib
import socket
import ssl

import pytest

from tests.doubles.ses_smtp_double import SesSmtpDouble, endpoint_name, parse_headers, ses_smtp_password

REGION = "eu-west-1"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SET = "shopper-test-events"
MSG = "From: shop@shop.example\r\nTo: ops@example.org\r\nSubject: double test\r\n\r\nhello\r\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running(tmp_path_factory, name: str, **options):
    base = tmp_path_factory.mktemp(name)
    return SesSmtpDouble(host="127.0.0.1", port=_free_port(), region=REGION, credentials={KEY_ID: SECRET},
                         tls_dir=base / "tls", store=base / "store", **options)


@pytest.fixture(scope="module")
def double(tmp_path_factory):
    with _running(tmp_path_factory, "ses-double", verified_domains=("shop.example",)) as d:
        yield d


@pytest.fixture(scope="module")
def double_with_sets(tmp_path_factory):
    """A double that knows one configuration set (SES refuses a header naming another)."""
    with _running(tmp_path_factory, "ses-double-sets", configuration_sets=(SET,)) as d:
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


# --- configuration sets: the double records headers and refuses unknown sets, as SES refuses a
# message whose X-SES-CONFIGURATION-SET names a set that does not exist.
def _send(double, headers: str):
    c = _client(double)
    c.starttls(context=ssl.create_default_context(cafile=str(double.tls["ca"])))
    c.ehlo("client.test")
    c.login(KEY_ID, ses_smtp_password(SECRET, REGION))
    try:
        return c.sendmail("shop@shop.example", ["ops@example.org"], headers + "\r\nhello\r\n")
    finally:
        c.quit()


def test_known_configuration_set_is_accepted_and_recorded(double_with_sets):
    _send(double_with_sets, f"X-SES-CONFIGURATION-SET: {SET}\r\nFrom: shop@shop.example\r\nSubject: known-set\r\n")
    msg = [m for m in double_with_sets.messages() if "known-set" in m["data"]][-1]
    assert msg["configuration_set"] == SET
    assert msg["headers"][:2] == [["X-SES-CONFIGURATION-SET", SET], ["From", "shop@shop.example"]]


def test_unknown_configuration_set_is_refused_with_554(double_with_sets):
    with pytest.raises(smtplib.SMTPDataError) as err:
        _send(double_with_sets, "X-SES-CONFIGURATION-SET: no-such-set\r\nFrom: shop@shop.example\r\nSubject: unknown-set\r\n")
    assert err.value.smtp_code == 554 and b"does not exist" in err.value.smtp_error
    assert not [m for m in double_with_sets.messages() if "unknown-set" in m["data"]]


def test_two_configuration_sets_are_refused(double_with_sets):
    with pytest.raises(smtplib.SMTPDataError) as err:
        _send(double_with_sets, f"X-SES-CONFIGURATION-SET: {SET}\r\nX-SES-CONFIGURATION-SET: {SET}\r\n"
                      "From: shop@shop.example\r\nSubject: two-sets\r\n")
    assert err.value.smtp_code == 554


def test_mail_without_a_configuration_set_is_recorded_as_none(double_with_sets):
    _send(double_with_sets, "From: shop@shop.example\r\nSubject: no-set\r\n")
    msg = [m for m in double_with_sets.messages() if "no-set" in m["data"]][-1]
    assert msg["configuration_set"] is None


def test_folded_headers_are_unfolded():
    assert parse_headers("Subject: a\r\n b\r\nFrom: x@y\r\n\r\nbody") == [["Subject", "a b"], ["From", "x@y"]]
