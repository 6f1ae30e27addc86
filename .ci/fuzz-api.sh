#!/usr/bin/env bash
# API fuzzing: schemathesis over every operation of /api/v1/schema/, as an anonymous client,
# a customer and a staff user (each with an API token). Fails on any server error or any answer
# the schema does not describe (status code, content type, body).
#
# The store runs under gunicorn on 127.0.0.1 with a throwaway database: SQLite in a temporary
# folder, or the PostgreSQL of DATABASE_URL when set (`.ci/with-postgres.sh .ci/fuzz-api.sh`).
# localstripe answers the checkout's payment calls. Ports are free ones unless FUZZ_PORT and
# FUZZ_STRIPE_PORT are given. FUZZ_EXAMPLES (default 10) bounds the test cases per operation and
# FUZZ_PERSONAS picks some of "anonymous customer staff". Reports (JUnit, and a log per persona) are written to
# test-artifacts/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
PY=${PY:-.venv/bin/python}
BIN=$(cd "$(dirname "$PY")" && pwd)
EXAMPLES=${FUZZ_EXAMPLES:-10}
OUT=$PWD/test-artifacts/fuzz
mkdir -p "$OUT" test-artifacts/tmp
WORK=$(mktemp -d "$PWD/test-artifacts/tmp/fuzz.XXXXXX")
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=${FUZZ_PORT:-$(free_port)}
STRIPE_PORT=${FUZZ_STRIPE_PORT:-$(free_port)}

# Production-like (DEBUG off: JSON 404s, no debug pages) but over plain HTTP on loopback.
export BAZAAR_VAR_DIR="$WORK" DJANGO_DEBUG=0 BAZAAR_LOCAL_SERVICES=1 SECRET_KEY="fuzz-$(date +%s%N)-not-a-secret-key-for-production" \
  ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 SECURE_HSTS_SECONDS=0 \
  LOCALSTRIPE_PORT="$STRIPE_PORT" SHOP_PAGE_CACHE_SECONDS=0 TMPDIR="$WORK"

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT

database=SQLite
[ -n "${DATABASE_URL:-}" ] && database=PostgreSQL
echo "-- database ($database) and the demo store"
"$PY" manage.py migrate --verbosity 0
"$PY" manage.py collectstatic --noinput --verbosity 0  # as deployed: pages need the static manifest
"$PY" manage.py seed_demo >"$OUT/seed.log"
token() { "$PY" manage.py drf_create_token "$1" | awk '{print $3}'; }
CUSTOMER_TOKEN=$(token shopper@example.com)
STAFF_TOKEN=$(token admin@example.com)

echo "-- localstripe on 127.0.0.1:$STRIPE_PORT, the store on 127.0.0.1:$PORT"
"$PY" manage.py localstripe --port "$STRIPE_PORT" >"$OUT/localstripe.log" 2>&1 &
pids+=($!)
"$BIN/gunicorn" config.wsgi --bind "127.0.0.1:$PORT" --workers 2 --timeout 60 --no-control-socket >"$OUT/gunicorn.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && curl -s -o /dev/null "http://127.0.0.1:$STRIPE_PORT/" && break
  sleep 0.2
done
curl -fs -o "$OUT/schema.json" "http://127.0.0.1:$PORT/api/v1/schema/?format=json"

status=0
schemathesis_run() {  # persona, then extra arguments; fails when the run finds a problem
  local persona=$1
  shift
  (cd "$WORK" && "$BIN/schemathesis" run "http://127.0.0.1:$PORT/api/v1/schema/?format=json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --generation-deterministic \
    --workers 2 --request-timeout 30 --no-color --output-truncate true \
    --report junit --report-junit-path "$OUT/$persona.xml" "$@") >"$OUT/$persona.log" 2>&1
}
fuzz() {
  local persona=$1
  shift
  echo "-- as $persona"
  if ! schemathesis_run "$persona" "$@"; then
    # The fuzzer's own fault under Python 3.11: its worker threads parse sources at the same time and
    # CPython's parser raises "AST constructor recursion depth mismatch" (fixed in later Pythons). A
    # run whose only error is that one says nothing of the API: it runs once more.
    if grep -q "AST constructor recursion depth mismatch" "$OUT/$persona.log" \
      && [ "$(grep -c "Runtime Error: " "$OUT/$persona.log")" = 1 ] \
      && ! grep -A1 "Test cases:" "$OUT/$persona.log" | grep -qi "fail"; then
      echo "   (the fuzzer's own parser fault, not the API's: once more; first run in $persona.first.log)"
      mv "$OUT/$persona.log" "$OUT/$persona.first.log"
      schemathesis_run "$persona" "$@" || status=1
    else
      status=1
    fi
  fi
  if grep -q "= SUMMARY =" "$OUT/$persona.log"; then sed -n '/= SUMMARY =/,$p' "$OUT/$persona.log"; else tail -20 "$OUT/$persona.log"; fi
}
for persona in ${FUZZ_PERSONAS:-anonymous customer staff}; do
  case $persona in
    anonymous) fuzz anonymous ;;
    customer) fuzz customer -H "Authorization: Token $CUSTOMER_TOKEN" --exclude-operation-id auth_token_destroy ;;
    staff) fuzz staff -H "Authorization: Token $STAFF_TOKEN" --exclude-operation-id auth_token_destroy ;;
  esac
done

if grep -q "Traceback" "$OUT/gunicorn.log"; then
  echo "The store logged an exception (test-artifacts/fuzz/gunicorn.log):"
  grep -A30 "Traceback" "$OUT/gunicorn.log" | head -60
  status=1
fi
echo "-- API fuzzing done in $(($(date +%s) - started))s (logs in $OUT/)"
exit $status
