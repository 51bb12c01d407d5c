#!/usr/bin/env bash
# TAL pages against Jinja2 pages, both served by our roundup-server from
# the same 20,000-issue database (bench/data/make_tracker.sh): Roundup
# 2.6's own classic home (its TAL html/, template_engine = zopetal) and
# our classic home (Jinja2 html/). Same pages as run.sh, measured with
# wrk (-t2 -c4) with the page cache answering (cached) and with a new URL
# each request (uncached: the page rendered afresh every time).
#
#   bench/web/tal.sh [DURATION_SECONDS]
#
# With TAL_LANGUAGE=de (any language Roundup 2.6 has a catalog for) both
# homes get `[tracker] language` and Roundup's catalogs in their locale/,
# so every page is rendered through the translator.
#
# Needs: /opt/rvenv (Roundup 2.6), user rt, wrk, and a release build
# (cargo build --release -p roundup-web -p roundup-admin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dur=${1:-10}
data=/tmp/roundup-bench
theirs=$data/roundup
tal=$data/ours-tal
jinja=$data/ours-jinja
bin=${BENCH_BIN:-$root/target/release}
tport=8919
jport=8920

[[ -f $theirs/db/db ]] || "$root/bench/data/make_tracker.sh" "$theirs"

# Roundup's home as it is (TAL), and our classic home (Jinja2), each with
# a copy of the one database.
rm -rf "$tal" "$jinja"
cp -a "$theirs" "$tal"
"$bin/roundup-admin" -i "$jinja" install classic sqlite \
  "mail_domain=example.com,tracker_web=http://127.0.0.1:$jport/bench/" >/dev/null
rm -f "$jinja/detectors/nosyreaction.py"
rm -rf "$jinja/db"
cp -a "$theirs/db" "$jinja/db"
sed -i "s|^web = .*|web = http://127.0.0.1:$tport/bench/|" "$tal/config.ini"
if [[ -n ${TAL_LANGUAGE:-} ]]; then
  for home in "$tal" "$jinja"; do
    mkdir -p "$home/locale"
    for l in "$TAL_LANGUAGE" en; do
      cp "/opt/rvenv/share/locale/$l/LC_MESSAGES/roundup.mo" "$home/locale/$l.mo"
    done
    # the first `language =` is [tracker]'s
    sed -i "0,/^#\? *language = .*/s//language = $TAL_LANGUAGE/" "$home/config.ini"
  done
fi

cleanup() {
  [[ -n ${tpid:-} ]] && kill "$tpid" 2>/dev/null || true
  [[ -n ${jpid:-} ]] && kill "$jpid" 2>/dev/null || true
}
trap cleanup EXIT
"$bin/roundup-server" -n 127.0.0.1 -p $tport "bench=$tal" >/tmp/ours-tal-server.log 2>&1 &
tpid=$!
"$bin/roundup-server" -n 127.0.0.1 -p $jport "bench=$jinja" >/tmp/ours-jinja-server.log 2>&1 &
jpid=$!
for port in $tport $jport; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/bench/" && break; sleep 0.2; done
done

# shellcheck source=pages.sh
source "$root/bench/web/pages.sh"
rate() { wrk -t2 -c4 -d"${dur}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
unique="$root/bench/web/nocache.lua"

printf '%-10s %12s %12s %8s %14s %14s %8s\n' page tal_cached jinja_cached ratio tal_uncached jinja_uncached ratio
for name in index item filtered search; do
  url=${pages[$name]}
  for port in $tport $jport; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/bench/$url")
    [[ $code == 200 ]] || { echo "$name on port $port answered $code"; exit 1; }
  done
  tc=$(rate "http://127.0.0.1:$tport/bench/$url")
  jc=$(rate "http://127.0.0.1:$jport/bench/$url")
  tu=$(rate -s "$unique" "http://127.0.0.1:$tport/bench/$url")
  ju=$(rate -s "$unique" "http://127.0.0.1:$jport/bench/$url")
  printf '%-10s %12s %12s %8.2f %14s %14s %8.2f\n' "$name" "$tc" "$jc" \
    "$(echo "$tc / $jc" | bc -l)" "$tu" "$ju" "$(echo "$tu / $ju" | bc -l)"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
