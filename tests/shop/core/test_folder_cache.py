"""The embedded store's cache (shop/core/cache.py): Django's file cache, culled every CULL_EVERY writes."""

import pytest

from shop.core.cache import FolderCache


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(FolderCache, "CULL_EVERY", 10)
    return FolderCache(str(tmp_path / "cache"), {"OPTIONS": {"MAX_ENTRIES": 30, "CULL_FREQUENCY": 3}})


def files(cache) -> int:
    return len(cache._list_cache_files())


def test_it_keeps_and_reads_back_like_the_file_cache(folder):
    folder.set("token", "abc", None)
    folder.set_many({"a": 1, "b": [2, 3]}, 60)
    assert folder.get("token") == "abc"
    assert folder.get_many(["a", "b", "missing"]) == {"a": 1, "b": [2, 3]}


def test_it_looks_at_the_folder_only_every_cull_every_writes(folder, monkeypatch):
    looks = []
    listing = FolderCache._list_cache_files
    monkeypatch.setattr(FolderCache, "_list_cache_files", lambda self: looks.append(1) or listing(self))

    for i in range(25):
        folder.set(f"k{i}", i, 60)

    assert len(looks) == 3  # writes 1, 11 and 21; Django's would list it 25 times


def test_a_full_folder_is_still_culled(folder):
    for i in range(100):
        folder.set(f"k{i}", i, 60)

    # MAX_ENTRIES 30: each look past it drops a third; between looks it grows by at most CULL_EVERY.
    assert files(folder) <= 30 + 10
