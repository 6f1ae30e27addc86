"""Telegram settings a store must not start with (config/settings.py refuses them).

Kept apart from telegram.py, which needs the apps loaded: settings import this module.
"""

import re

# What Telegram's setWebhook accepts as a secret_token: 1-256 of these characters. Fewer than
# 32 is refused here too: the secret is the only thing that tells Telegram's calls from anyone's.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,256}")


def telegram_settings_problems(*, bot_token: str, secret: str) -> list[str]:
    """Why the Telegram settings cannot run, if they cannot; [] when they can (or are both unset: off)."""
    problems = []
    if bot_token and not secret:
        # A bot with no secret would answer 404 to every update, silently: say so at start instead.
        problems.append(
            "ASSISTANT_TELEGRAM_BOT_TOKEN is set but ASSISTANT_TELEGRAM_SECRET is not: set the secret "
            "given to setWebhook as secret_token (32 to 256 letters, digits, _ or -)."
        )
    if secret and not SECRET_PATTERN.fullmatch(secret):
        problems.append(
            "ASSISTANT_TELEGRAM_SECRET must be 32 to 256 letters, digits, _ or - (what Telegram's "
            "setWebhook accepts as secret_token)."
        )
    if secret and bot_token and secret in bot_token:
        problems.append("ASSISTANT_TELEGRAM_SECRET must not be part of the bot token: choose a secret of its own.")
    return problems
