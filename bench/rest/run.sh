#!/usr/bin/env bash
# REST benchmark: Roundup 2.6's roundup-server and ours, each serving a
# fresh copy of the same 20,000-issue classic tracker (made by
# bench/data/make_tracker.sh with Roundup itself), measured with wrk.
#
#   bench/rest/run.sh [DURATION_SECONDS]
#
# Cases, each with the same URL and headers for both servers:
#   item-basic   GET /rest/data/issue/12345, HTTP Basic credentials
#   page-basic   GET one page of 50 issues (@page_size=50&@page_index=3),
#                HTTP Basic credentials
#   item-cookie  GET item with a web session cookie (logged in by the form)
#   page-cookie  GET page with a web session cookie
#   item-anon    GET item as the anonymous user
#   page-anon    GET page as the anonymous user
#   create       POST /rest/data/issue (JSON), HTTP Basic credentials
#
# Both trackers get the one schema change the anonymous cases need: the
# Anonymous role is given "Rest Access" (classic does not give it).
#
# Needs: /opt/rvenv (Roundup 2.6), user rt, wrk, curl, bc, and a release
# build (cargo build --release -p roundup-web -p roundup-admin).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dur=${1:-10}
src=/tmp/roundup-bench/roundup
work=/tmp/roundup-bench-rest
theirs=$work/roundup
ours=$work/ours
bin=${BIN:-$root/target/release}
rport=8937
oport=8938

[[ -f $src/db/db ]] || "$root/bench/data/make_tracker.sh" "$src"
for t in wrk curl bc; do
  command -v "$t" >/dev/null || { echo "bench/rest: $t is needed" >&2; exit 1; }
done

grant="db.security.addPermissionToRole('Anonymous', 'Rest Access')"

# Fresh copies every run: the create case adds issues.
rm -rf "$work"
mkdir -p "$work"
cp -a "$src" "$theirs"
rm -rf "$theirs/__pycache__"
sed -i "s|^web = .*|web = http://127.0.0.1:$rport/bench/|" "$theirs/config.ini"
printf '\n%s\n' "$grant" >>"$theirs/schema.py"
chown -R rt "$work"

"$bin/roundup-admin" -i "$ours" install classic sqlite \
  "mail_domain=example.com,tracker_web=http://127.0.0.1:$oport/bench/" >/dev/null
rm -f "$ours/detectors/nosyreaction.py"
printf '\n%s\n' "$grant" >>"$ours/schema.py"
cp -a "$src/db" "$ours/db"

cleanup() {
  [[ -n ${rpid:-} ]] && kill "$rpid" 2>/dev/null || true
  [[ -n ${opid:-} ]] && kill "$opid" 2>/dev/null || true
}
trap cleanup EXIT

su rt -c "exec /opt/rvenv/bin/roundup-server -n 127.0.0.1 -p $rport bench=$theirs" \
  >"$work/roundup-server.log" 2>&1 &
rpid=$!
"$bin/roundup-server" -n 127.0.0.1 -p $oport "bench=$ours" >"$work/ours-server.log" 2>&1 &
opid=$!
for port in $rport $oport; do
  for _ in $(seq 150); do curl -fs -o /dev/null "http://127.0.0.1:$port/bench/" && break; sleep 0.2; done
done

# A user of the classic "User" role made by make_tracker.py.
user=user07:pw07
basic="Authorization: Basic $(printf '%s' "$user" | base64)"

# Log in through the web form (with its CSRF token); print "name=value" of
# the session cookie.
login_cookie() {
  local port=$1 jar page csrf
  jar=$(mktemp)
  page=$(curl -fs -c "$jar" "http://127.0.0.1:$port/bench/")
  csrf=$(printf '%s' "$page" | grep -o 'name="@csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -fs -o /dev/null -b "$jar" -c "$jar" \
    -H "Referer: http://127.0.0.1:$port/bench/" -H "Origin: http://127.0.0.1:$port" \
    --data-urlencode "@action=login" --data-urlencode "__login_name=${user%%:*}" \
    --data-urlencode "__login_password=${user#*:}" --data-urlencode "@csrf=$csrf" \
    --data-urlencode "__came_from=http://127.0.0.1:$port/bench/" \
    "http://127.0.0.1:$port/bench/"
  awk '$6 ~ /roundup_session/ {print $6 "=" $7}' "$jar"
  rm -f "$jar"
}
rcookie="Cookie: $(login_cookie $rport)"
ocookie="Cookie: $(login_cookie $oport)"
[[ $rcookie == *=* && $ocookie == *=* ]] || { echo "bench/rest: login failed" >&2; exit 1; }

item=rest/data/issue/12345
page='rest/data/issue?@page_size=50&@page_index=3'

# Check one answer (status and a fragment of the body) before measuring.
probe() {
  local url=$1 header=$2 want=$3 out
  out=$(curl -s -H "$header" -w '\n%{http_code}' "$url")
  [[ ${out##*$'\n'} == 200 && $out == *"$want"* ]] || {
    echo "bench/rest: $url answered ${out##*$'\n'}: ${out:0:300}" >&2
    exit 1
  }
}

# Requests per second; a run with any non-2xx answer or socket error is refused.
rate() {
  local out
  out=$(wrk -t2 -c4 -d"${dur}s" --timeout 10s "$@")
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
    echo "bench/rest: errors during wrk $*:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}

printf '%-12s %12s %12s %9s\n' case roundup_rps ours_rps ratio
row() {
  local name=$1 r=$2 o=$3
  if [[ $(echo "$r > 0" | bc -l) == 1 ]]; then
    printf '%-12s %12s %12s %9.1f\n' "$name" "$r" "$o" "$(echo "$o / $r" | bc -l)"
  else
    printf '%-12s %12s %12s %9s\n' "$name" "$r" "$o" "n/a"
  fi
}

get_case() {
  local name=$1 path=$2 rh=$3 oh=$4 want=$5 r o
  probe "http://127.0.0.1:$rport/bench/$path" "$rh" "$want"
  probe "http://127.0.0.1:$oport/bench/$path" "$oh" "$want"
  r=$(rate -H "$rh" "http://127.0.0.1:$rport/bench/$path")
  o=$(rate -H "$oh" "http://127.0.0.1:$oport/bench/$path")
  row "$name" "$r" "$o"
}

anon="X-Bench: anonymous"
get_case item-basic "$item" "$basic" "$basic" '"id": "12345"'
get_case page-basic "$page" "$basic" "$basic" '"@total_size"'
get_case item-cookie "$item" "$rcookie" "$ocookie" '"id": "12345"'
get_case page-cookie "$page" "$rcookie" "$ocookie" '"@total_size"'
get_case item-anon "$item" "$anon" "$anon" '"id": "12345"'
get_case page-anon "$page" "$anon" "$anon" '"@total_size"'

post_rate() {
  local port=$1
  rate -s "$here/post.lua" -H "$basic" -H "X-Requested-With: rest-bench" \
    -H "Origin: http://127.0.0.1:$port" -H "Referer: http://127.0.0.1:$port/bench/" \
    "http://127.0.0.1:$port/bench/rest/data/issue"
}
r=$(post_rate $rport)
o=$(post_rate $oport)
row create "$r" "$o"
