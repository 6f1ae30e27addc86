"""The cache's key prefix follows the code: a changed template is never hidden behind an old page."""

import subprocess
import sys
from pathlib import Path

from config.release import code_digest

ROOT = Path(__file__).resolve().parents[3]


def _tree(base: Path, template: str) -> Path:
    (base / "templates").mkdir(parents=True, exist_ok=True)
    (base / "shop" / "migrations").mkdir(parents=True, exist_ok=True)
    (base / "templates" / "page.html").write_text(template)
    (base / "shop" / "views.py").write_text("def view(): ...\n")
    return base


def test_a_changed_template_or_module_changes_the_release(tmp_path):
    before = code_digest(_tree(tmp_path, "<p>old</p>"))
    assert code_digest(tmp_path) == before  # the same code, the same release
    (tmp_path / "templates" / "page.html").write_text("<p>new</p>")
    after = code_digest(tmp_path)
    assert after != before
    (tmp_path / "shop" / "views.py").write_text("def view(): return 1\n")
    assert code_digest(tmp_path) != after


def test_a_migration_or_a_data_file_does_not(tmp_path):
    before = code_digest(_tree(tmp_path, "<p>same</p>"))
    (tmp_path / "shop" / "migrations" / "0002_more.py").write_text("x = 1\n")
    (tmp_path / "shop" / "notes.csv").write_text("a,b\n")
    assert code_digest(tmp_path) == before


def test_a_deployment_names_its_release():
    code = "from django.conf import settings as s; print(s.CACHES['default']['KEY_PREFIX'])"
    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "1", "RELEASE": "2026-12-04.1"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2026-12-04.1"
