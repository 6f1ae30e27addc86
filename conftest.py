"""The test run's environment, set before Django's settings load.

Settings default to DEBUG off and refuse to start without a SECRET_KEY (production fails
closed). The test suite, like `make run`, is the embedded store on one machine, so it asks for
DEBUG unless the caller chose otherwise. pyproject.toml does not name the settings module:
pytest-django would import it before any conftest runs, too early for this. This file is the
first conftest pytest imports (the project root's), so Django is set up here, before the
conftests below import models; child processes the tests start (manage.py localstripe,
runstore) inherit the same environment.
"""

import os

import django

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
