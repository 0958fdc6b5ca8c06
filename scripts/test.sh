#!/usr/bin/env bash
# Runs the whole test suite. Starts the MongoDB wire-protocol test server when node is
# available (and no SC_TEST_MONGO_URL is given), so the Mongo backend is also tested over TCP.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
wire="${SC_WIRE_SERVER:-$here/../shared/mongo-wire-server}"
started=""
if [ -z "${SC_TEST_MONGO_URL:-}" ] && [ -x "$wire/start" ] && command -v node >/dev/null 2>&1; then
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if url=$("$wire/start" "$port"); then
    export SC_TEST_MONGO_URL="$url"
    started=$port
    echo "wire test server: $url" >&2
  else
    echo "wire test server did not start; wire tests will be skipped" >&2
  fi
fi
# Two workers, a test file each at a time: the service tests of one file keep their own timing.
# A test that hangs fails after 5 minutes instead of holding CI.
.venv/bin/python -m pytest -n "${SC_TEST_WORKERS:-2}" --dist loadfile --timeout 300 "$@"
rc=$?
if [ -n "$started" ]; then "$wire/stop" "$started" >/dev/null 2>&1 || true; fi
exit $rc
