#!/usr/bin/env bash
# Real-traffic web benchmark: every request a new random URL (random.lua),
# Roundup 2.6's roundup-server and ours serving copies of the same SQLite
# database in one run, the resident memory of each server sampled every
# second throughout.
#
#   bench/web/random.sh [-d SECONDS] [-m MIX_SECONDS] [-W WARM_SECONDS] [-n ISSUES] [-w WRITES_PER_S] [-o] [CASE...]
#
#   -d  seconds per case and server (default 10)
#   -W  first run each case this many seconds against each server and
#       report it on a row of its own, "CASE/cold", before the measured
#       run (default 0: none). wrk's percentiles count the requests a
#       slow answer held back (its correction for coordinated omission),
#       so one second of first fetches of whole orders after a start
#       counts as about a thousand slow answers in that run's p99.
#   -m  seconds of the mix (default: as -d)
#   -n  issues in the data set (default 20000; made once by
#       bench/data/make_tracker.sh and kept under $BENCH_DATA: with Roundup's
#       own generator up to 20,000, above that as an export our roundup-admin
#       imports)
#   -w  commits per second by the outside writer during the mix (default 2)
#   -o  ours alone (when Roundup cannot finish at this size)
#   CASE: item index filtered search mix (default: all five)
#
# During the mix a separate process (our roundup-admin, one `set` per
# commit, run as the server's user) changes a random issue's title, so every
# commit invalidates what the servers cached, as real traffic does.
#
# Needs /opt/rvenv (Roundup 2.6), user rt, wrk, and our binaries in
# $BENCH_BIN (default target/release, the build users run: cargo build
# --release -p roundup-web -p roundup-admin; the profiling build, quicker
# to rebuild, measured within the noise of it). Prints a table; the
# samples are kept in $BENCH_DATA/rss-*.txt (epoch seconds, kB).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dur=10 mixdur="" issues=20000 writes=2 ours_only=0 warm=0
while getopts "d:m:n:w:W:o" opt; do
  case $opt in
    d) dur=$OPTARG ;;
    W) warm=$OPTARG ;;
    m) mixdur=$OPTARG ;;
    n) issues=$OPTARG ;;
    w) writes=$OPTARG ;;
    o) ours_only=1 ;;
    *) sed -n '2,33p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
mixdur=${mixdur:-$dur}
cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=(item index filtered search mix)
for c in "${cases[@]}"; do
  case $c in item|index|filtered|search|mix) ;; *) echo "unknown case $c" >&2; exit 2 ;; esac
done

data=${BENCH_DATA:-/tmp/roundup-bench}
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release}
[[ -x $bin/roundup-server && -x $bin/roundup-admin ]] || { echo "no roundup-server/roundup-admin in $bin (set BENCH_BIN)" >&2; exit 1; }
if [[ $issues == 20000 ]]; then pristine=$data/roundup; else pristine=$data/roundup-$issues; fi
theirs=$data/run-roundup
ours=$data/run-ours
rport=8927
oport=8928

[[ -f $pristine/db/db ]] || OUR_ADMIN=$bin/roundup-admin "$root/bench/data/make_tracker.sh" "$pristine" "$issues"

# Fresh copies for this run (the writer changes them). The message contents
# under db/files are never written to, so the copies share them (hard links:
# a million issues have 1.5 million of them).
copy_db() {
  mkdir -p "$2"
  chown --reference="$1" "$2"
  local e
  for e in "$1"/* "$1"/.[!.]*; do
    [[ -e $e ]] || continue
    if [[ $e == "$1/files" ]]; then cp -al "$e" "$2/"; else cp -a "$e" "$2/"; fi
  done
}
rm -rf "$theirs" "$ours"
if ((!ours_only)); then
  cp -a "$pristine" "$theirs"
  rm -rf "$theirs/db"
  copy_db "$pristine/db" "$theirs/db"
fi
"$bin/roundup-admin" -i "$ours" install classic sqlite \
  "mail_domain=example.com,tracker_web=http://127.0.0.1:$oport/bench/" >/dev/null
rm -f "$ours/detectors/nosyreaction.py"
rm -rf "$ours/db"
copy_db "$pristine/db" "$ours/db"
# Roundup's data comes without our full-text index: until it is built,
# search falls back to Roundup's __words tables. Build it, as a team
# moving over is told to (roundup-admin reindex), and say how long it took.
# (An index our import made is kept when complete: one made into a home
# our own `initialise` made is; one made into a home Roundup initialised
# comes out marked stale, since Roundup's database came first.)
if [[ -f $ours/db/text-index/meta.json && ! -e $ours/db/text-index/STALE ]] \
  && "$bin/roundup-admin" -i "$ours" list status >/dev/null 2>&1 \
  && [[ ! -e $ours/db/text-index/STALE ]]; then
  echo "ours: the copied full-text index is complete; kept"
else
  start=$(date +%s.%N)
  "$bin/roundup-admin" -i "$ours" reindex >/dev/null
  echo "ours: reindex of the copied data took $(echo "$(date +%s.%N) - $start" | bc) s"
fi
chown -R rt "$ours"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# Resident set of a process and its children (Roundup forks), in kB, each
# second, as "epoch kB" lines.
sample_rss() {
  local pid=$1 out=$2
  while kill -0 "$pid" 2>/dev/null; do
    local sum=0
    for p in $pid $(pgrep -P "$pid" 2>/dev/null); do
      local v
      v=$(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
      sum=$((sum + ${v:-0}))
    done
    echo "$(date +%s) $sum" >>"$out"
    sleep 1
  done
}

start_servers() {
  if ((!ours_only)); then
    su rt -c "exec /opt/rvenv/bin/roundup-server -n 127.0.0.1 -p $rport bench=$theirs" >"$data/roundup-server.log" 2>&1 &
    rpid=$!
    pids+=("$rpid")
  fi
  su rt -c "exec $bin/roundup-server -n 127.0.0.1 -p $oport bench=$ours" >"$data/ours-server.log" 2>&1 &
  opid=$!
  pids+=("$opid")
  local ports=($oport)
  ((ours_only)) || ports+=($rport)
  for port in "${ports[@]}"; do
    for _ in $(seq 150); do curl -fs -o /dev/null "http://127.0.0.1:$port/bench/" && break; sleep 0.2; done
  done
  # su's child is the server itself (exec); sample the server process
  rserver=$( ((ours_only)) || pgrep -P "$rpid" | head -1 || true)
  oserver=$(pgrep -P "$opid" | head -1 || echo "$opid")
  rm -f "$data"/rss-*.txt
  if ((!ours_only)); then
    sample_rss "${rserver:-$rpid}" "$data/rss-roundup.txt" &
    pids+=($!)
  fi
  sample_rss "$oserver" "$data/rss-ours.txt" &
  pids+=($!)
}

# The largest sample between two epoch seconds.
max_rss() {
  awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b && $2 > m {m = $2} END {printf "%.1f", m / 1024}' "$1" 2>/dev/null || echo "?"
}

# Commits by an outside process: a random issue's title changes.
writer() {
  local home=$1 n=0
  local pause
  pause=$(echo "1 / $writes" | bc -l)
  while :; do
    local id=$(( (RANDOM * 32768 + RANDOM) % issues + 1 ))
    n=$((n + 1))
    # in the background, so that the rate does not depend on how long
    # one commit takes
    (su rt -c "$bin/roundup-admin -i $home set issue$id title='bench write $n'" >/dev/null 2>&1 \
      && echo "$n" >>"$data/writes.done" || echo "writer: set issue$id failed" >&2) &
    echo "$n" >"$data/writes"
    sleep "$pause"
  done
}

# Run wrk on one case against one server: sets rps p50 p99 bad rss.
run_case() {
  local name=$1 port=$2 seconds=$3 rssfile=$4 home=$5
  local wpid="" t0 t1 out
  rm -f "$data/writes" "$data/writes.done"
  if [[ $name == mix && $writes != 0 ]]; then
    writer "$home" &
    wpid=$!
  fi
  t0=$(date +%s)
  out=$(wrk -t2 -c4 -d"${seconds}s" --timeout 30s -s "$root/bench/web/random.lua" \
    "http://127.0.0.1:$port/bench/" -- "$name" "$issues" 2>&1)
  t1=$(date +%s)
  if [[ -n $wpid ]]; then kill "$wpid" 2>/dev/null || true; wait "$wpid" 2>/dev/null || true; fi
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '/latency_p50_ms/ {print $2}' <<<"$out")
  p99=$(awk '/latency_p99_ms/ {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  bad=${bad:-0}
  rss=$(max_rss "$rssfile" "$t0" "$t1")
  nwrites=0
  if [[ -f $data/writes.done ]]; then nwrites=$(wc -l <"$data/writes.done"); fi
}

# One case against both servers (ours alone with -o) for SECONDS; prints
# its row under LABEL.
measure() {
  local label=$1 c=$2 secs=$3
  local r_rps=- r_rss=- r_writes="" ratio=- w=""
  if ((!ours_only)); then
    run_case "$c" $rport "$secs" "$data/rss-roundup.txt" "$theirs"
    r_rps=$rps r_rss=$rss r_writes=$nwrites
    ((bad == 0)) || echo "roundup: $bad answers were not 2xx/3xx in $label" >&2
  fi
  run_case "$c" $oport "$secs" "$data/rss-ours.txt" "$ours"
  ((bad == 0)) || echo "ours: $bad answers were not 2xx/3xx in $label" >&2
  [[ $r_rps != - && -n $r_rps ]] && ratio=$(printf '%.1f' "$(echo "$rps / $r_rps" | bc -l)")
  [[ $c == mix ]] && w="${r_writes:+$r_writes/}$nwrites"
  printf '%-9s %10s %10s %8s %9s %9s %10s %10s %7s\n' "$label" "$r_rps" "$rps" "$ratio" "$p50" "$p99" "$r_rss" "$rss" "$w"
}

start_servers
echo "load before: $(uptime)"
printf '%-9s %10s %10s %8s %9s %9s %10s %10s %7s\n' case roundup_rps ours_rps ratio ours_p50 ours_p99 rdp_rss_MB ours_rss_MB writes
for c in "${cases[@]}"; do
  secs=$dur
  [[ $c == mix ]] && secs=$mixdur
  ((warm > 0)) && measure "$c/cold" "$c" "$warm"
  measure "$c" "$c" "$secs"
done
echo "load after: $(uptime)"
all_ours=$(awk '$2 > m {m = $2} END {printf "%.1f", m / 1024}' "$data/rss-ours.txt")
if ((!ours_only)); then
  all_r=$(awk '$2 > m {m = $2} END {printf "%.1f", m / 1024}' "$data/rss-roundup.txt")
  echo "peak RSS over the whole run (MB): roundup $all_r, ours $all_ours"
else
  echo "peak RSS over the whole run (MB): ours $all_ours"
fi
echo "ours, last sample: $(tail -1 "$data/rss-ours.txt" | awk '{printf "%.1f MB", $2 / 1024}')"
