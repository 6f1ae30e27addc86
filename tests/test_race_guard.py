"""Race tests say where they prove nothing, and CI cannot pass without running them on PostgreSQL.

Each case runs pytest in a child process. None of them opens a database: skipped and
deselected tests never set one up, so the child cannot touch this run's test database.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import RACE_SKIP_REASON

ROOT = Path(__file__).resolve().parents[1]
ONE_RACE = "tests/loyalty/test_races.py::test_many_deliveries_of_one_payment_earn_once"
# Never connected to: no test runs, the option only needs to know the database is PostgreSQL.
POSTGRES_URL = "postgres://shop:shop@127.0.0.1:9/unused"


def _pytest(*args: str, database_url: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("PYTEST_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # a third of the start-up time; only pytest-django is needed
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [str(Path(sys.executable).with_name("pytest")), "-p", "pytest_django.plugin", "-q", "-rs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_on_sqlite_a_race_test_is_skipped_saying_why():
    result = _pytest(ONE_RACE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert RACE_SKIP_REASON in result.stdout


def test_require_races_refuses_to_run_on_sqlite():
    result = _pytest(ONE_RACE, "--require-races")
    assert result.returncode == 4, result.stdout + result.stderr  # a usage error
    assert "--require-races needs PostgreSQL" in result.stderr


def test_require_races_fails_a_postgresql_run_in_which_no_race_test_ran():
    result = _pytest("tests/loyalty/test_races.py", "-m", "not race", "--require-races", database_url=POSTGRES_URL)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "race tests on postgresql: 0 passed" in result.stdout
    assert "every race test must run and pass" in result.stdout

    result = _pytest("tests/loyalty/test_races.py", "-m", "not race", database_url=POSTGRES_URL)
    assert result.returncode == 5, result.stdout + result.stderr  # without the option: "no tests ran", as usual
