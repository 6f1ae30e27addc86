"""SMS backends: the console and the test outbox, Twilio's request and how its errors map, and a
store that refuses to start with Twilio chosen and a credential missing."""

import base64
import io
import urllib.parse

import pytest
import requests
import responses

from marketing.campaigns.channels import ChannelError, get_backend, sms
from tests.marketing.campaigns.channel_helpers import start

SID = "AC" + "0" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
TWILIO = "marketing.campaigns.channels.sms.TwilioBackend"


@pytest.fixture
def twilio(settings):
    settings.CAMPAIGNS_SMS_BACKEND = TWILIO
    settings.CAMPAIGNS_TWILIO_ACCOUNT_SID = SID
    settings.CAMPAIGNS_TWILIO_AUTH_TOKEN = "secret-token"
    settings.CAMPAIGNS_TWILIO_FROM = "+15005550006"
    with responses.RequestsMock() as mock:  # no request leaves the machine: one that is not mocked fails
        yield mock


def send(**kwargs):
    return get_backend("CAMPAIGNS_SMS_BACKEND").send(
        **{"to": "+14155550100", "text": "20% off today", "reference": "m-17", **kwargs}
    )


def test_it_prints_the_message_on_the_console(settings):
    stream = io.StringIO()

    message_id = sms.ConsoleBackend(stream=stream).send(to="+14155550100", text="20% off today", reference="m-17")

    printed = stream.getvalue()
    assert "SMS to +14155550100 (reference m-17, id console-" in printed
    assert "20% off today" in printed
    assert message_id.startswith("console-") and message_id in printed


def test_it_writes_to_standard_output_by_default(capsys):
    sms.ConsoleBackend().send(to="+14155550100", text="Hello", reference="m-1")

    assert "SMS to +14155550100" in capsys.readouterr().out


def test_it_keeps_messages_in_the_outbox_in_tests():
    message_id = send()

    assert sms.outbox == [{"to": "+14155550100", "text": "20% off today", "reference": "m-17", "id": message_id}]


@pytest.mark.parametrize("number", ["", "0612345678", "+0612345678", "+33 6 12 34 56 78", "+1234"])
def test_it_refuses_a_number_that_is_not_international_for_good(number):
    with pytest.raises(ChannelError) as error:
        send(to=number)

    assert error.value.permanent
    assert sms.outbox == []


def test_it_makes_one_backend_per_process_and_a_new_one_when_the_setting_changes(settings):
    first = get_backend("CAMPAIGNS_SMS_BACKEND")
    assert get_backend("CAMPAIGNS_SMS_BACKEND") is first

    settings.CAMPAIGNS_SMS_BACKEND = "marketing.campaigns.channels.sms.ConsoleBackend"

    assert isinstance(get_backend("CAMPAIGNS_SMS_BACKEND"), sms.ConsoleBackend)


def test_it_posts_the_message_to_twilio(twilio):
    twilio.post(URL, status=201, json={"sid": "SM" + "a" * 32, "status": "queued"})

    message_id = send()

    assert message_id == "SM" + "a" * 32
    request = twilio.calls[0].request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:secret-token".encode()).decode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(request.body) == {
        "To": ["+14155550100"],
        "Body": ["20% off today"],
        "From": ["+15005550006"],
    }


def test_it_sends_from_a_messaging_service_when_the_sender_is_one(twilio, settings):
    settings.CAMPAIGNS_TWILIO_FROM = "MG" + "b" * 32
    twilio.post(URL, status=201, json={"sid": "SM1"})

    send()

    body = urllib.parse.parse_qs(twilio.calls[0].request.body)
    assert body["MessagingServiceSid"] == ["MG" + "b" * 32]
    assert "From" not in body


@pytest.mark.parametrize("code", [21211, 21614, 21610, 21612])
def test_it_says_a_number_twilio_can_never_reach_is_permanent(twilio, code):
    twilio.post(URL, status=400, json={"code": code, "message": "The 'To' number is not valid", "status": 400})

    with pytest.raises(ChannelError) as error:
        send()

    assert error.value.permanent
    assert error.value.code == str(code)
    assert f"error {code}" in str(error.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"code": 21408, "message": "Permission to send an SMS has not been enabled for the region"}),
        (401, {"code": 20003, "message": "Authenticate"}),
        (429, {"code": 20429, "message": "Too Many Requests"}),
        (500, {"message": "Internal Server Error"}),
        (503, "<html>Service Unavailable</html>"),
    ],
    ids=["region-not-enabled", "bad-credentials", "too-many", "server-error", "unavailable-html"],
)
def test_it_says_our_or_twilios_problems_may_be_retried(twilio, status, body):
    if isinstance(body, dict):
        twilio.post(URL, status=status, json=body)
    else:
        twilio.post(URL, status=status, body=body)

    with pytest.raises(ChannelError) as error:
        send()

    assert not error.value.permanent


@pytest.mark.parametrize("failure", [requests.ConnectTimeout(), requests.ReadTimeout(), requests.ConnectionError()])
def test_it_says_a_timeout_or_a_lost_connection_may_be_retried(twilio, failure):
    twilio.post(URL, body=failure)

    with pytest.raises(ChannelError) as error:
        send()

    assert not error.value.permanent
    assert error.value.code == "network"


def test_it_never_calls_twilio_for_a_number_that_cannot_work(twilio):
    with pytest.raises(ChannelError):
        send(to="12345")

    assert len(twilio.calls) == 0


@pytest.mark.parametrize(
    "missing", ["CAMPAIGNS_TWILIO_ACCOUNT_SID", "CAMPAIGNS_TWILIO_AUTH_TOKEN", "CAMPAIGNS_TWILIO_FROM"]
)
def test_it_refuses_to_start_with_twilio_and_a_credential_missing(missing):
    credentials = {
        "CAMPAIGNS_TWILIO_ACCOUNT_SID": SID,
        "CAMPAIGNS_TWILIO_AUTH_TOKEN": "secret-token",
        "CAMPAIGNS_TWILIO_FROM": "+15005550006",
    }
    result = start(CAMPAIGNS_SMS_BACKEND=TWILIO, **{**credentials, missing: None})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"CAMPAIGNS_SMS_BACKEND is Twilio but {missing} is not set" in result.stderr


def test_it_starts_with_twilio_and_its_credentials():
    result = start(
        CAMPAIGNS_SMS_BACKEND=TWILIO,
        CAMPAIGNS_TWILIO_ACCOUNT_SID=SID,
        CAMPAIGNS_TWILIO_AUTH_TOKEN="secret-token",
        CAMPAIGNS_TWILIO_FROM="+15005550006",
    )

    assert result.returncode == 0, result.stderr
