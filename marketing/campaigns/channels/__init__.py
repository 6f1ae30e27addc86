"""How messages leave the store on each channel: email through Django's mail (an email service
through django-anymail in production), SMS and push through a backend named in settings."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


class ChannelError(Exception):
    """A message the channel did not take. `permanent`: this address will never work."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@cache
def _backend(path: str):
    return import_string(path)()


def get_backend(setting_name: str):
    return _backend(getattr(settings, setting_name))
