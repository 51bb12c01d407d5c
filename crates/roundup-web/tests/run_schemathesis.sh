#!/bin/sh
# Property-based test of the REST API against its own OpenAPI description,
# with schemathesis (4.x). Needs a running server that routes /rest to
# roundup_web::rest (roundup-server or roundup-demo from this workspace).
#
# usage: run_schemathesis.sh TRACKER_URL [USER:PASSWORD|-] [st run options...]
#   e.g. run_schemathesis.sh http://localhost:8917/demo/ admin:admin --max-examples 20
#   "-" runs as the anonymous user (the tracker's Anonymous role then
#   needs "Rest Access"; classic does not give it).
#
# schemathesis is looked for in $SCHEMATHESIS (the st program), then
# /opt/stvenv/bin/st (where .ci/run installs it), then on PATH. Settings
# for exceptions a schema cannot express are in schemathesis.toml beside
# this script. Exits with st's status: 0 when every check passed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
url=${1:?"usage: $0 TRACKER_URL [USER:PASSWORD|-] [st options...]"}
shift
auth=admin:admin
if [ $# -gt 0 ]; then auth=$1; shift; fi
case $url in */) ;; *) url=$url/ ;; esac
origin=$(printf '%s' "$url" | sed -E 's|^([a-z]+://[^/]+).*|\1|')

st=${SCHEMATHESIS:-}
[ -n "$st" ] || { [ -x /opt/stvenv/bin/st ] && st=/opt/stvenv/bin/st; } || true
[ -n "$st" ] || st=$(command -v st || true)
if [ -z "$st" ]; then
    echo "schemathesis not found: python3 -m venv /opt/stvenv && /opt/stvenv/bin/pip install schemathesis" >&2
    exit 2
fi

# The CSRF rules for API writes want X-Requested-With and a same-origin
# Origin/Referer. The document itself is fetched with the same credentials.
set -- --checks all \
    --header "X-Requested-With: schemathesis" \
    --header "Origin: $origin" \
    --header "Referer: $url" \
    "$@"
if [ "$auth" != "-" ]; then
    set -- --auth "$auth" "$@"
fi
exec "$st" --config-file "$here/schemathesis.toml" run "${url}rest/openapi.json" "$@"
