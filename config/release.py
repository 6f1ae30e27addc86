"""Which release of the code is running, for the cache's key prefix.

Cached pages are HTML made by the templates and views: after an upgrade, entries made by the
old code must not be served by the new one. RELEASE (set by a deployment, e.g. the commit) names
the release; without it, a digest of the code and templates does, so a changed template in the
demo store or on a developer's machine is never hidden behind a page cached before the change.
"""

import hashlib
from pathlib import Path

ROOTS = ("config", "shop", "marketing", "loyalty", "templates")
SUFFIXES = {".py", ".html", ".txt"}


def code_digest(base: Path) -> str:
    digest = hashlib.blake2b(digest_size=6)
    for root in ROOTS:
        for path in sorted((base / root).rglob("*")):
            if path.suffix in SUFFIXES and "migrations" not in path.parts and path.is_file():
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()
