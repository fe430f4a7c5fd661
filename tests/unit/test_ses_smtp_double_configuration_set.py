"""The SES SMTP double records headers and refuses unknown configuration sets, as SES
refuses a message whose X-SES-CONFIGURATION-SET names a set that does not exist."""
from __future__ import annotations

import smtplib
import socket
import ssl

import pytest

from tests.doubles.ses_smtp_double import SesSmtpDouble, endpoint_name, parse_headers, ses_smtp_password

REGION = "eu-west-1"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SET = "shopper-test-events"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def double(tmp_path_factory):
    base = tmp_path_factory.mktemp("ses-double-sets")
    d = SesSmtpDouble(
        host="127.0.0.1", port=_free_port(), region=REGION, credentials={KEY_ID: SECRET},
        tls_dir=base / "tls", store=base / "store", configuration_sets=(SET,),
    )
    with d:
        yield d


def _send(double, headers: str):
    c = smtplib.SMTP("127.0.0.1", double.port, timeout=10)
    c._host = endpoint_name(REGION)
    c.ehlo("client.test")
    c.starttls(context=ssl.create_default_context(cafile=str(double.tls["ca"])))
    c.ehlo("client.test")
    c.login(KEY_ID, ses_smtp_password(SECRET, REGION))
    try:
        return c.sendmail("shop@shop.example", ["ops@example.org"], headers + "\r\nhello\r\n")
    finally:
        c.quit()


def test_known_configuration_set_is_accepted_and_recorded(double):
    _send(double, f"X-SES-CONFIGURATION-SET: {SET}\r\nFrom: shop@shop.example\r\nSubject: known-set\r\n")
    msg = [m for m in double.messages() if "known-set" in m["data"]][-1]
    assert msg["configuration_set"] == SET
    assert msg["headers"][:2] == [["X-SES-CONFIGURATION-SET", SET], ["From", "shop@shop.example"]]


def test_unknown_configuration_set_is_refused_with_554(double):
    with pytest.raises(smtplib.SMTPDataError) as err:
        _send(double, "X-SES-CONFIGURATION-SET: no-such-set\r\nFrom: shop@shop.example\r\nSubject: unknown-set\r\n")
    assert err.value.smtp_code == 554 and b"does not exist" in err.value.smtp_error
    assert not [m for m in double.messages() if "unknown-set" in m["data"]]


def test_two_configuration_sets_are_refused(double):
    with pytest.raises(smtplib.SMTPDataError) as err:
        _send(double, f"X-SES-CONFIGURATION-SET: {SET}\r\nX-SES-CONFIGURATION-SET: {SET}\r\n"
                      "From: shop@shop.example\r\nSubject: two-sets\r\n")
    assert err.value.smtp_code == 554


def test_mail_without_a_configuration_set_is_recorded_as_none(double):
    _send(double, "From: shop@shop.example\r\nSubject: no-set\r\n")
    msg = [m for m in double.messages() if "no-set" in m["data"]][-1]
    assert msg["configuration_set"] is None


def test_folded_headers_are_unfolded():
    assert parse_headers("Subject: a\r\n b\r\nFrom: x@y\r\n\r\nbody") == [["Subject", "a b"], ["From", "x@y"]]
