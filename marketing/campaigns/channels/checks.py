"""Channel settings a store must not start with (config/settings.py refuses them).

Choosing a provider's backend without its credentials would fail every message, and only
when a campaign goes out: the start-up says so at once instead.
"""

import binascii

TWILIO = "marketing.campaigns.channels.sms.TwilioBackend"
WEBPUSH = "marketing.campaigns.channels.push.WebPushBackend"


def channel_settings_problems(
    *,
    sms_backend: str,
    push_backend: str,
    twilio_account_sid: str,
    twilio_auth_token: str,
    twilio_from: str,
    vapid_public_key: str,
    vapid_private_key: str,
    vapid_subject: str,
) -> list[str]:
    problems = [*_unknown_backends(CAMPAIGNS_SMS_BACKEND=sms_backend, CAMPAIGNS_PUSH_BACKEND=push_backend)]
    if sms_backend == TWILIO:
        missing = [
            name
            for name, value in [
                ("CAMPAIGNS_TWILIO_ACCOUNT_SID", twilio_account_sid),
                ("CAMPAIGNS_TWILIO_AUTH_TOKEN", twilio_auth_token),
                ("CAMPAIGNS_TWILIO_FROM", twilio_from),
            ]
            if not value
        ]
        if missing:
            problems.append(f"CAMPAIGNS_SMS_BACKEND is Twilio but {', '.join(missing)} is not set.")
    if push_backend == WEBPUSH:
        missing = [
            name
            for name, value in [
                ("CAMPAIGNS_VAPID_PUBLIC_KEY", vapid_public_key),
                ("CAMPAIGNS_VAPID_PRIVATE_KEY", vapid_private_key),
                ("CAMPAIGNS_VAPID_SUBJECT", vapid_subject),
            ]
            if not value
        ]
        if missing:
            problems.append(
                f"CAMPAIGNS_PUSH_BACKEND is WebPushBackend but {', '.join(missing)} is not set "
                "(`manage.py vapid_keys` makes a key pair)."
            )
        else:
            problems += _vapid_problems(vapid_public_key, vapid_private_key, vapid_subject)
    return problems


def _vapid_problems(public_key: str, private_key: str, subject: str) -> list[str]:
    from marketing.campaigns.channels.vapid import public_key_of

    problems = []
    try:
        if public_key_of(private_key) != public_key.strip():
            # Browsers subscribe with the public key: signed with another, every push is refused.
            problems.append("CAMPAIGNS_VAPID_PUBLIC_KEY is not the public key of CAMPAIGNS_VAPID_PRIVATE_KEY.")
    except (ValueError, binascii.Error):
        problems.append("CAMPAIGNS_VAPID_PRIVATE_KEY is not a VAPID private key (`manage.py vapid_keys` makes one).")
    if not subject.startswith(("mailto:", "https://")):
        problems.append("CAMPAIGNS_VAPID_SUBJECT must be a contact for push services: mailto:… or https://….")
    return problems


def _unknown_backends(**paths: str) -> list[str]:
    """A backend path that names nothing (a typo, "sms.Twilio") would fail every message later."""
    from django.utils.module_loading import import_string

    problems = []
    for name, path in paths.items():
        try:
            import_string(path)
        except ImportError:
            problems.append(
                f"{name}={path!r} names no backend: give the dotted path of a class, "
                f"e.g. {TWILIO if 'SMS' in name else WEBPUSH} (docs/channels.md)."
            )
    return problems
