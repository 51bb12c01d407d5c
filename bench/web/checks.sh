#!/usr/bin/env bash
# Pages that run the tracker's permission check functions per row, before
# and after a change of ours, with Roundup 2.6 beside them: Roundup 2.6's
# roundup-server and two builds of ours serve copies of the same
# 20,000-issue SQLite database (bench/data/make_tracker.sh), and a
# logged-in User (user07) asks for the user index (classic's own_record
# check decides what of each row the User sees) and the issue index.
# Every request has a different URL, so our page cache never answers.
#
#   bench/web/checks.sh BIN_BEFORE BIN_AFTER [DURATION_SECONDS]
#
# Needs: /opt/rvenv (Roundup 2.6), user rt, wrk, curl.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
before=${1:?release bin directory of the build before}
after=${2:?release bin directory of the build after}
dur=${3:-10}
data=/tmp/roundup-bench
theirs=$data/roundup
bport=8928
aport=8929

[[ -f $theirs/db/db ]] || "$root/bench/data/make_tracker.sh" "$theirs"
# Roundup checks the login form's Referer against its [tracker] web.
rport=$(sed -n 's|^web = http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$theirs/config.ini")
rport=${rport:-8917}

home_for() {
  local bin=$1 home=$2 port=$3
  rm -rf "$home"
  "$bin/roundup-admin" -i "$home" install classic sqlite \
    "mail_domain=example.com,tracker_web=http://127.0.0.1:$port/bench/" >/dev/null
  rm -f "$home/detectors/nosyreaction.py"
  cp -a "$theirs/db" "$home/db"
}
home_for "$before" "$data/before" $bport
home_for "$after" "$data/after" $aport

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
su rt -c "exec /opt/rvenv/bin/roundup-server -n 127.0.0.1 -p $rport bench=$theirs" >/tmp/roundup-checks-server.log 2>&1 &
pids+=($!)
"$before/roundup-server" -n 127.0.0.1 -p $bport "bench=$data/before" >/tmp/before-checks-server.log 2>&1 &
pids+=($!)
"$after/roundup-server" -n 127.0.0.1 -p $aport "bench=$data/after" >/tmp/after-checks-server.log 2>&1 &
pids+=($!)
for port in $rport $bport $aport; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/bench/" && break; sleep 0.2; done
done

# A session cookie of user07 (password pw07) from the login form.
session() {
  local port=$1
  curl -s -o /dev/null -D - "http://127.0.0.1:$port/bench/" \
    -H "Referer: http://127.0.0.1:$port/bench/" -H "Origin: http://127.0.0.1:$port" \
    --data-urlencode "@action=login" --data-urlencode "__login_name=user07" \
    --data-urlencode "__login_password=pw07" |
    awk 'tolower($1) == "set-cookie:" {sub(/;.*/, "", $2); print $2; exit}'
}

unique="$root/bench/web/nocache.lua"
rate() {
  local port=$1 url=$2 cookie
  cookie=$(session "$port")
  [[ -n $cookie ]] || { echo "login-failed"; return; }
  wrk -t2 -c4 -d"${dur}s" -s "$unique" -H "Cookie: $cookie" "http://127.0.0.1:$port/bench/$url" |
    awk '/Requests\/sec/ {print $2}'
}

declare -A urls=(
  [users]="user?@columns=username,realname,address,phone&@pagesize=50&@sort=username"
  [issues]="issue?@columns=title,id,activity,status,assignedto&@pagesize=50&@sort=-activity"
)
printf '%-8s %12s %12s %12s %8s\n' page roundup_rps before_rps after_rps after/before
for name in users issues; do
  r=$(rate $rport "${urls[$name]}")
  b=$(rate $bport "${urls[$name]}")
  a=$(rate $aport "${urls[$name]}")
  printf '%-8s %12s %12s %12s %8.2f\n' "$name" "$r" "$b" "$a" "$(echo "$a / $b" | bc -l)"
done
