#!/bin/sh
# Property-based test of the REST API against its own OpenAPI description,
# with schemathesis. Needs a running server that routes /rest to
# roundup_web::rest (roundup-server from this workspace).
#
# usage: run_schemathesis.sh TRACKER_URL [USER:PASSWORD] [extra st options]
#   e.g. run_schemathesis.sh http://localhost:8917/demo/ admin:admin --max-examples 20
#
# The venv lives in /tmp/schemathesis-venv (created on first use).
set -eu
url=${1:?"usage: $0 TRACKER_URL [USER:PASSWORD] [st options...]"}
shift
auth=admin:admin
if [ $# -gt 0 ]; then auth=$1; shift; fi
case $url in */) ;; *) url=$url/ ;; esac
origin=$(printf '%s' "$url" | sed -E 's|^([a-z]+://[^/]+).*|\1|')

venv=/tmp/schemathesis-venv
if [ ! -x "$venv/bin/st" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet schemathesis
fi

# The CSRF rules for API writes want X-Requested-With and a same-origin
# Origin/Referer; every call authenticates with Basic credentials.
exec "$venv/bin/st" run "${url}rest/openapi.json" \
    --checks all \
    --auth "$auth" \
    --header "X-Requested-With: schemathesis" \
    --header "Origin: $origin" \
    --header "Referer: $url" \
    "$@"
