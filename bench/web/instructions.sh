#!/usr/bin/env bash
# Instructions per uncached page of our roundup-server, counted by
# valgrind's callgrind: repeatable to a fraction of a per cent whatever else
# the machine does, so two builds can be compared where wrk's requests per
# second are too noisy (bench/web/run.sh gives the rates).
#
#   bench/web/instructions.sh [BIN_DIR] [PORT]
#
# BIN_DIR holds roundup-admin and roundup-server (default target/release).
# Serves a copy of the 20,000-issue tracker of bench/data/make_tracker.sh
# under callgrind, warms each page (shared read cache filled), then counts
# ten requests of it, each with a distinct ignored parameter so the page
# cache never answers, and prints the instructions per request.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/release}
port=${2:-8919}
data=/tmp/roundup-bench
home=$data/instr-$port
out=$data/instr-$port.cg
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[[ -f $data/roundup/db/db ]] || "$root/bench/data/make_tracker.sh" "$data/roundup"

rm -rf "$home" "$out".*
"$bin/roundup-admin" -i "$home" install classic sqlite \
  "mail_domain=example.com,tracker_web=http://127.0.0.1:$port/bench/" >/dev/null
rm -f "$home/detectors/nosyreaction.py"
cp -a "$data/roundup/db" "$home/db"

valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
  --callgrind-out-file="$out" "$bin/roundup-server" -n 127.0.0.1 -p "$port" "bench=$home" \
  >"$data/instr-$port.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do curl -fs -o /dev/null "http://127.0.0.1:$port/bench/" && break; sleep 0.5; done

# callgrind takes commands only while the program runs: each one is
# followed by a request for the (cheap, database-free) favicon.
control() {
  callgrind_control "$1" "$pid" >/dev/null 2>&1 &
  local cc=$!
  sleep 1
  curl -fs -o /dev/null "http://127.0.0.1:$port/favicon.ico"
  wait "$cc"
}

# How many dumps callgrind has written so far.
dumps() {
  local f=("$out".*)
  if [[ -e ${f[0]} ]]; then echo "${#f[@]}"; else echo 0; fi
}

# shellcheck source=pages.sh
source "$root/bench/web/pages.sh"
printf '%-10s %14s\n' page instructions
for name in index item filtered search; do
  url=${pages[$name]}
  sep='?'
  [[ $url == *\?* ]] && sep='&'
  for i in 1 2 3; do curl -fs -o /dev/null "http://127.0.0.1:$port/bench/$url${sep}warm=$i"; done
  control -z
  for i in $(seq 10); do curl -fs -o /dev/null "http://127.0.0.1:$port/bench/$url${sep}n=$i"; done
  before=$(dumps)
  control -d
  for _ in $(seq 20); do (($(dumps) > before)) && break; sleep 0.5; done
  last=$(ls -t "$out".* | head -1)
  printf '%-10s %14d\n' "$name" $(($(awk '/^summary:/ {print $2}' "$last") / 10))
done
