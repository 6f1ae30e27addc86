"""The embedded store's shared cache: Django's file cache, without its cost on every write.

Before each write, Django's file cache lists its whole folder to see whether it is full and
culls a third of it if so: a write into a folder of 3,000 entries costs 6 ms, and every
version token a write replaces (shop.core.tokens) is such a write. This one looks every
CULL_EVERY writes of a process instead (the folder may pass MAX_ENTRIES by that many writes
per process before it is culled). Reads are the file cache's own. Production uses Redis.
"""

from django.core.cache.backends.filebased import FileBasedCache


class FolderCache(FileBasedCache):
    CULL_EVERY = 200

    def __init__(self, directory, params):
        super().__init__(directory, params)
        self._writes = 0

    def _cull(self):
        self._writes += 1
        if self._writes % self.CULL_EVERY == 1:  # the first write, then every CULL_EVERY
            super()._cull()
