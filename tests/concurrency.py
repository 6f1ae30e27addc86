"""Real concurrency for race tests: calls in their own threads and database connections, released together.

A test module that uses run_at_once is marked `race` (tests/conftest.py): skipped on SQLite, whose
IMMEDIATE transactions serialise every atomic block so a missing lock goes unseen there, and
required on PostgreSQL in CI (`make test-postgres` passes --require-races).
"""

import threading

from django.db import connection


def run_at_once(calls, *, exceptions_allowed: bool = False) -> list:
    """Run each call in its own thread, all released by one barrier; their results (or exceptions), in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait(timeout=30)
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - judged by the test, not lost in the thread
            results[i] = exc
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a call hung"
    if not exceptions_allowed:
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, f"exceptions in the threads: {errors!r}"
    return results
