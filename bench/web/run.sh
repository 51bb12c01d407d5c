#!/usr/bin/env bash
# Web benchmark: Roundup 2.6's roundup-server and ours serving the very same
# 20,000-issue SQLite database (made by bench/data/make_tracker.sh with
# Roundup itself), measured with wrk as anonymous users (-t2 -c4).
#
#   bench/web/run.sh [DURATION_SECONDS]
#
# Needs: /opt/rvenv (Roundup 2.6), user rt, wrk, and a release build
# (cargo build --release -p roundup-web -p roundup-admin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dur=${1:-10}
data=/tmp/roundup-bench
theirs=$data/roundup
ours=$data/ours
bin=${BENCH_BIN:-$root/target/release}
rport=8917
oport=8918

[[ -f $theirs/db/db ]] || "$root/bench/data/make_tracker.sh" "$theirs"

# Our tracker home: the classic template, with Roundup's database copied in
# unchanged (same SQL layout, same file store).
rm -rf "$ours"
"$bin/roundup-admin" -i "$ours" install classic sqlite \
  "mail_domain=example.com,tracker_web=http://127.0.0.1:$oport/bench/" >/dev/null
rm -f "$ours/detectors/nosyreaction.py"
cp -a "$theirs/db" "$ours/db"

cleanup() {
  [[ -n ${rpid:-} ]] && kill "$rpid" 2>/dev/null || true
  [[ -n ${opid:-} ]] && kill "$opid" 2>/dev/null || true
}
trap cleanup EXIT

su rt -c "exec /opt/rvenv/bin/roundup-server -n 127.0.0.1 -p $rport bench=$theirs" >/tmp/roundup-bench-server.log 2>&1 &
rpid=$!
"$bin/roundup-server" -n 127.0.0.1 -p $oport "bench=$ours" >/tmp/ours-bench-server.log 2>&1 &
opid=$!
for port in $rport $oport; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/bench/" && break; sleep 0.2; done
done

# shellcheck source=pages.sh
source "$root/bench/web/pages.sh"

# The largest resident set of a server and its children (Roundup forks).
peak_kb() {
  local pids
  pids=$(pgrep -P "$1" 2>/dev/null; echo "$1")
  local max=0
  for p in $pids; do
    local v
    v=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    (( v > max )) && max=$v
  done
  echo "$max"
}

rate() { wrk -t2 -c4 -d"${dur}s" "$@" | awk '/Requests\/sec/ {print $2}'; }

unique="$root/bench/web/nocache.lua"

declare -A rr oo uu
for name in index item filtered search; do
  url=${pages[$name]}
  curl -fs -o /dev/null "http://127.0.0.1:$rport/bench/$url"
  curl -fs -o /dev/null "http://127.0.0.1:$oport/bench/$url"
  rr[$name]=$(rate "http://127.0.0.1:$rport/bench/$url")
  oo[$name]=$(rate "http://127.0.0.1:$oport/bench/$url")
done
peak_cached=$(peak_kb $opid)
for name in index item filtered search; do
  uu[$name]=$(rate -s "$unique" "http://127.0.0.1:$oport/bench/${pages[$name]}")
done

printf '%-10s %12s %12s %8s %14s %8s\n' page roundup_rps ours_rps ratio ours_uncached ratio
for name in index item filtered search; do
  r=${rr[$name]} o=${oo[$name]} u=${uu[$name]}
  printf '%-10s %12s %12s %8.1f %14s %8.1f\n' "$name" "$r" "$o" "$(echo "$o / $r" | bc -l)" "$u" "$(echo "$u / $r" | bc -l)"
done
echo "server peak RSS (kB): roundup $(peak_kb $rpid)  ours $peak_cached (after the cached runs), $(peak_kb $opid) (after all runs)"
