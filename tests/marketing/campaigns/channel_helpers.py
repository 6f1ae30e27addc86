"""What the channel tests share: a production start-up of the store, in a child process."""

import os
import subprocess
import sys
from pathlib import Path

from tests.production_env import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[3]
# A production store that starts (tests/shop/payments/test_production_settings.py): live Stripe keys.
PRODUCTION = PRODUCTION_ENV


def start(**env):
    """`manage.py check` as a production process would start, with these variables changed (None: unset)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DJANGO_", "BAZAAR_", "CAMPAIGNS_"))}
    merged = {**clean, **PRODUCTION, **env}
    merged = {k: v for k, v in merged.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=merged, capture_output=True, text=True, timeout=120
    )
