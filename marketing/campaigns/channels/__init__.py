"""How a message leaves the store on each channel: one backend per channel, named by a setting.

Like Django's EMAIL_BACKEND: CAMPAIGNS_SMS_BACKEND and CAMPAIGNS_PUSH_BACKEND name a class
(sms.ConsoleBackend, sms.TwilioBackend, push.WebPushBackend...), and `get_backend` makes one
instance of it per process, kept until a test changes the setting. A backend's `send` returns
the provider's id for the message, or raises ChannelError (docs/channels.md).
"""

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string


class ChannelError(Exception):
    """A message the provider did not take.

    `permanent` means this address will never work (a number that is not a mobile phone, a push
    subscription the browser dropped): the caller stops using the address. Otherwise the failure
    is the provider's or the network's, and the message may be tried again later.
    """

    def __init__(self, message: str, *, permanent: bool = False, code: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.code = code


@cache
def _backend(path: str):
    return import_string(path)()


def get_backend(setting_name: str):
    """The backend the setting names (e.g. "CAMPAIGNS_SMS_BACKEND"), one instance per process:
    a provider's HTTP session and parsed keys are reused from one message to the next."""
    return _backend(getattr(settings, setting_name))


@receiver(setting_changed, dispatch_uid="campaigns_channels_reset")
def _forget_backends(*, setting, **kwargs):
    # Backends read their credentials once; a test that changes them gets fresh instances.
    if setting.startswith("CAMPAIGNS_"):
        _backend.cache_clear()
