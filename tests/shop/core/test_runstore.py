"""`make run` (manage.py runstore): two stores side by side on one machine, each with its own ports and
localstripe, each stopped cleanly by SIGTERM; and a port in use stops a store before it starts anything."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shop.payments.localstripe import webhooks

# One worker runs these one after the other (make test: --dist loadgroup): each picks free ports
# and one holds a port on purpose, which another test picking at the same moment could take.
pytestmark = pytest.mark.xdist_group("runstore")

ROOT = Path(__file__).resolve().parents[3]
LOCALSTRIPE_OFFSET = 420
# Two cold stores take about 20 s of CPU (each: migrate, then four processes loading Django); the
# limit is for a busy two-core machine, and the test goes on as soon as both stores are ready.
START_SECONDS = 240


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_web_ports(count: int, skip=()) -> list[int]:
    """Web ports whose localstripe port (+420) is free too; 8171-8179 first, then any free ones."""
    candidates = [p for p in (*range(8171, 8180), *range(20000, 20400)) if p not in skip]
    ports = [p for p in candidates if _is_free(p) and _is_free(p + LOCALSTRIPE_OFFSET)][:count]
    assert len(ports) == count, "no free ports"
    return ports


def _environ(var_dir: Path, **extra: str) -> dict[str, str]:
    """The embedded store's environment: no database, Redis, Stripe or port of the test run's own."""
    dropped = ("DATABASE_URL", "REDIS_URL", "PORT", "LOCALSTRIPE_PORT", "SHOP_SITE_URL")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith(("STRIPE_", "PYTEST_"))}
    return {**env, "DJANGO_DEBUG": "1", "BAZAAR_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1", **extra}


def _runstore(port: int, var_dir: Path, log: Path, **extra: str) -> subprocess.Popen:
    # --noreload: the same web server without runserver's file watcher, which only costs CPU here.
    argv = [sys.executable, "manage.py", "runstore", "--no-seed", "--noreload"]
    with log.open("w") as out:
        return subprocess.Popen(
            argv, cwd=ROOT, env=_environ(var_dir, PORT=str(port), **extra), stdout=out, stderr=subprocess.STDOUT
        )


def _wait_for_line(process: subprocess.Popen, log: Path, text: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        output = log.read_text()
        if text in output:
            return output
        assert process.poll() is None, f"runstore exited ({process.returncode}):\n{output}"
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} within {seconds}s:\n{log.read_text()}")


def _children_environ(pid: int) -> dict[int, dict[str, str]]:
    """The environment of each process `pid` started, by process id (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid:
                raw = (stat.parent / "environ").read_bytes()
                found[int(stat.parent.name)] = dict(
                    item.split("=", 1) for item in raw.decode().split("\0") if "=" in item
                )
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
    return found


def _kill_leftovers(pids) -> None:
    """If runstore failed to stop its children, stop them here, so a failed run leaves nothing behind."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)  # each child leads its own process group
        except (ProcessLookupError, PermissionError):
            pass


def _listening_addresses(port: int) -> set[str]:
    """The local addresses (IPv4 and IPv6) on which something listens on `port` (Linux /proc/net)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=10)  # -9: the assertion on the exit codes says it did not stop


def _two_stores(tmp_path) -> tuple[list[int], list[subprocess.Popen], list[Path], list[str]]:
    """Two running stores on ports found free, with their logs up to "running".

    Between that look and a store's own, another program on the machine may take a port (seen now
    and then on a shared machine): the store then refuses to start, as it should, and the pair
    starts again on other ports, at most three times. Any other failure fails the test.
    """
    tried: set[int] = set()
    for _attempt in range(3):
        ports = _free_web_ports(2, skip=tried)
        logs = [tmp_path / f"store-{port}.log" for port in ports]
        stores = [_runstore(port, tmp_path / f"var-{port}", log) for port, log in zip(ports, logs, strict=True)]
        try:
            outputs = [
                _wait_for_line(store, log, "Bazaar is running at", START_SECONDS)
                for store, log in zip(stores, logs, strict=True)
            ]
        except AssertionError:
            if not any("already in use" in log.read_text() for log in logs):
                raise
            for store in stores:
                _stop(store)
            tried |= set(ports)
            continue
        return ports, stores, logs, outputs
    raise AssertionError(f"three pairs of free ports were taken before the stores started: {sorted(tried)}")


@pytest.mark.stores
def test_two_stores_run_side_by_side_each_with_its_own_localstripe_and_stop_cleanly(tmp_path):
    ports, stores, logs, outputs = _two_stores(tmp_path)
    started: list[int] = []
    try:
        for port, store, output in zip(ports, stores, outputs, strict=True):
            stripe_base = f"http://127.0.0.1:{port + LOCALSTRIPE_OFFSET}"
            # Both answer, and each localstripe sends its events to its own store only.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
                assert response.status == 200
            for listening in (port, port + LOCALSTRIPE_OFFSET):  # on loopback only
                assert _listening_addresses(listening) == {"0100007F"}, listening
            assert webhooks(stripe_base) == {"bazaar": f"http://127.0.0.1:{port}/api/v1/payments/stripe/webhook/"}
            # Every process the store started talks to that localstripe (its settings follow the environment).
            children = _children_environ(store.pid)
            started += children
            assert len(children) == 4, children  # localstripe, web, worker, beat
            assert {(env.get("PORT"), env.get("STRIPE_API_BASE")) for env in children.values()} == {
                (str(port), stripe_base)
            }
            # The address comes last, after the worker's and the scheduler's banners.
            assert output.index("Bazaar is running at") > output.index(" ready.") > output.index("celery@")
            assert output.index("Bazaar is running at") > output.index("beat: Starting")
            assert f"Bazaar is running at http://127.0.0.1:{port}/" in output
            assert "demo logins" not in output  # --no-seed: there are none

        # A third store on the first one's port stops before it starts anything, saying what to do.
        taken = subprocess.run(
            [sys.executable, "manage.py", "runstore", "--no-seed"],
            cwd=ROOT,
            env=_environ(tmp_path / "var-third", PORT=str(ports[0])),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert taken.returncode == 1
        assert f"Port {ports[0]} is already in use" in taken.stderr
        assert "make run" in taken.stderr and "PORT=" in taken.stderr
        # And a third one on free ports but in the first one's folder (its database, broker and schedule).
        (free,) = _free_web_ports(1)
        shared = subprocess.run(
            [sys.executable, "manage.py", "runstore", "--no-seed"],
            cwd=ROOT,
            env=_environ(tmp_path / f"var-{ports[0]}", PORT=str(free)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shared.returncode == 1
        assert f"Another store already runs from {tmp_path / f'var-{ports[0]}'} (on port {ports[0]})" in shared.stderr
        assert f"BAZAAR_VAR_DIR={tmp_path / f'var-{ports[0]}' / f'store-{free}'} PORT={free} make run" in shared.stderr
        first_stripe = f"http://127.0.0.1:{ports[0] + LOCALSTRIPE_OFFSET}"
        assert webhooks(first_stripe) == {"bazaar": f"http://127.0.0.1:{ports[0]}/api/v1/payments/stripe/webhook/"}
    finally:
        codes = [_stop(store) for store in stores]
        leftovers = [pid for pid in started if Path(f"/proc/{pid}").exists() and not _is_zombie(pid)]
        _kill_leftovers(leftovers)

    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    assert not leftovers, "runstore left processes running"
    for output in outputs:
        assert "SIGTERM received: stopping" in output
        assert output.rstrip().endswith("Stopped.")
        assert "stopped by itself" not in output and "in use" not in output
    for port in ports:  # every process is gone: its ports are free again
        assert _is_free(port) and _is_free(port + LOCALSTRIPE_OFFSET)


def test_a_busy_localstripe_port_stops_the_store_before_anything_starts(tmp_path):
    (web,) = _free_web_ports(1)
    with socket.socket() as busy:  # say, another store's localstripe
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", web + LOCALSTRIPE_OFFSET))
        busy.listen()
        result = subprocess.run(
            [sys.executable, "manage.py", "runstore", "--no-seed"],
            cwd=ROOT,
            env=_environ(tmp_path, PORT=str(web)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {web + LOCALSTRIPE_OFFSET}, for this store's localstripe, is already in use" in result.stderr
    assert "Nothing was started" in result.stderr and "make run (its localstripe then uses" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()  # not even migrated


def test_localstripe_follows_the_port_in_every_process_settings(tmp_path):
    code = "from django.conf import settings as s; print(s.LOCALSTRIPE_PORT, s.STRIPE_API_BASE)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=_environ(tmp_path, PORT="8001"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["8421", "http://127.0.0.1:8421"]
