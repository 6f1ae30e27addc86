#!/usr/bin/env bash
# Once-only sending under two concurrent workers: a campaign to a few hundred customers, sent by two
# real Celery workers (prefork, two processes each) through a real Redis, every batch queued twice (the
# copy on a second queue the workers also read) so that they race on the same messages. Fails unless every consenting customer got exactly one
# email and every message is sent (.ci/celery_once.py checks and prints the figures).
#
# Needs PostgreSQL (DATABASE_URL, a scratch database it migrates: `.ci/with-postgres.sh .ci/celery-once.sh`)
# and redis-server. Redis listens on a free port of 127.0.0.1 unless CELERY_ONCE_REDIS_PORT is given.
# Emails are written by Django's file backend (EMAIL_FILE_PATH) and counted; the workers' logs are kept
# in test-artifacts/celery-once/ (with the emails, when the check fails).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
PY=${PY:-.venv/bin/python}
BIN=$(cd "$(dirname "$PY")" && pwd)
if [ -z "${DATABASE_URL:-}" ]; then
  echo "Set DATABASE_URL to a scratch PostgreSQL database: .ci/with-postgres.sh .ci/celery-once.sh" >&2
  exit 1
fi
if ! command -v redis-server >/dev/null; then
  echo "redis-server is not installed: apt-get install redis-server" >&2
  exit 1
fi
OUT=$PWD/test-artifacts/celery-once
rm -rf "$OUT"
mkdir -p "$OUT" test-artifacts/tmp
WORK=$(mktemp -d "$PWD/test-artifacts/tmp/celery-once.XXXXXX")
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
REDIS_PORT=${CELERY_ONCE_REDIS_PORT:-$(free_port)}
if (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; then
  echo "Port $REDIS_PORT is already in use on 127.0.0.1: set CELERY_ONCE_REDIS_PORT to a free port." >&2
  exit 1
fi

# Production-like (DEBUG off, Redis for the broker and the cache); many small batches, no rate limit
# worth the name, so that batches run side by side.
export BAZAAR_VAR_DIR="$WORK" DJANGO_DEBUG=0 BAZAAR_LOCAL_SERVICES=1 SECRET_KEY="once-$(date +%s%N)-not-a-secret-key-for-production" \
  ALLOWED_HOSTS=127.0.0.1 REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" EMAIL_FILE_PATH="$WORK/mail" \
  CAMPAIGNS_BATCH_SIZE=25 CAMPAIGNS_BATCHES_PER_MINUTE=6000 TMPDIR="$WORK" PYTHONUNBUFFERED=1

workers=()
redis_pid=""
stop() {
  local status=$?
  # The workers first (a warm shutdown, then a cold one for any that lingers), Redis last.
  for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid in "${workers[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for pid in "${workers[@]}"; do kill -QUIT "$pid" 2>/dev/null || true; done
  [ -z "$redis_pid" ] || kill -TERM "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [ $status = 0 ] || cp -r "$WORK/mail" "$OUT/mail" 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT

echo "-- scratch database (PostgreSQL), Redis on 127.0.0.1:$REDIS_PORT"
"$PY" manage.py migrate --verbosity 0
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  >"$OUT/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
  sleep 0.1
done

echo "-- two Celery workers (prefork, 2 processes each)"
for n in 1 2; do
  "$BIN/celery" -A config worker --pool=prefork --concurrency 2 --prefetch-multiplier 1 -Q celery,copies -n "once$n@%h" \
    --without-gossip --without-mingle --loglevel INFO >"$OUT/worker$n.log" 2>&1 &
  workers+=($!)
done

status=0
"$PY" .ci/celery_once.py "$OUT/worker1.log" "$OUT/worker2.log" || status=$?
echo "-- once-only sending checked in $(($(date +%s) - started))s (logs in $OUT/)"
exit $status
