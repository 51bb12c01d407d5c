#!/usr/bin/env bash
# Import benchmark: the same synthetic classic-tracker export (ISSUES issues,
# one message each, 200 users, journals) imported by Roundup 2.6's
# roundup-admin and by ours, each into a freshly initialised tracker,
# timed with /usr/bin/time -v (wall time and maximum resident set size).
#
# Usage: bench/import/run.sh [ISSUES] [OUR_BINARY]
#   ISSUES      default 20000
#   OUR_BINARY  default target/release/roundup-admin, else target/debug/
#   RUNS=n      imports by ours (default 3, each into its own new tracker);
#               the median is compared (Roundup takes a minute per run and
#               is imported once)
#
# Before every timed import the disk is synced and left alone for
# SETTLE seconds (default 10), so that neither program pays for writing
# back what the previous step left in the page cache.
# Needs /opt/rvenv/bin/roundup-admin and a user "rt" to run Roundup as
# (Roundup refuses some things as root). Work files go to $BENCH_DIR
# (default /tmp/rr-bench-import).
set -euo pipefail

ISSUES=${1:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OURS=${2:-}
if [ -z "$OURS" ]; then
    if [ -x "$ROOT/target/release/roundup-admin" ]; then
        OURS="$ROOT/target/release/roundup-admin"
    else
        OURS="$ROOT/target/debug/roundup-admin"
    fi
fi
ROUNDUP=/opt/rvenv/bin/roundup-admin
RUNS=${RUNS:-3}
SETTLE=${SETTLE:-10}
settle() { sync; sleep "$SETTLE"; }
WORK=${BENCH_DIR:-/tmp/rr-bench-import}

[ -x "$ROUNDUP" ] || { echo "skipped: $ROUNDUP is not installed"; exit 0; }
id rt >/dev/null 2>&1 || { echo "skipped: there is no user rt to run Roundup as"; exit 0; }
[ -x "$OURS" ] || { echo "no roundup-admin binary at $OURS (cargo build -p roundup-admin --release)"; exit 1; }

# ext4 without a journal (as on the development machine) passes over
# inodes freed in the last minutes when it allocates new ones (up to six
# minutes once their inode table block is written to again): creating
# thousands of files soon after deleting thousands is then many times
# slower, for whichever program comes first. So nothing is deleted before
# the timed imports: the previous run's files are moved aside and
# deleted at the end, and a run that starts less than six minutes after
# such a deletion waits for the rest of that time.
STAMP="$WORK.deleted-at"
if [ -e "$WORK" ]; then
    mv "$WORK" "$WORK.old.$$"
fi
if [ -e "$STAMP" ]; then
    left=$(( $(cat "$STAMP") + 370 - $(date +%s) ))
    if [ "$left" -gt 0 ]; then
        echo "waiting $left s for the inodes freed by the previous run to age ..."
        sleep "$left"
    fi
fi
cleanup_old() {
    if compgen -G "$WORK.old.*" >/dev/null; then
        echo "removing the previous runs' files ..."
        rm -rf "$WORK".old.*
        sync
        date +%s > "$STAMP"
    fi
}
mkdir -p "$WORK"
echo "generating an export with $ISSUES issues in $WORK/export ..."
python3 "$HERE/gen_export.py" "$WORK/export" "$ISSUES"
du -sh "$WORK/export" | sed 's/^/export size: /'
chown -R rt "$WORK"

as_rt() { su rt -s /bin/bash -c "cd '$WORK' && $*"; }

echo "Roundup 2.6: install + initialise ..."
as_rt "$ROUNDUP -i $WORK/roundup install classic sqlite mail_domain=example.com >/dev/null && $ROUNDUP -i $WORK/roundup initialise admin"
echo "Roundup 2.6: import ..."
settle
as_rt "/usr/bin/time -v -o $WORK/roundup.time $ROUNDUP -i $WORK/roundup import $WORK/export > $WORK/roundup.out 2>&1" \
    || { echo "Roundup's import failed:"; tail -5 "$WORK/roundup.out"; exit 1; }

for i in $(seq "$RUNS"); do
    echo "ours: install + initialise + import (run $i of $RUNS) ..."
    "$OURS" -i "$WORK/ours$i" install classic sqlite mail_domain=example.com >/dev/null
    "$OURS" -i "$WORK/ours$i" initialise admin
    settle
    /usr/bin/time -v -o "$WORK/ours$i.time" "$OURS" -i "$WORK/ours$i" import "$WORK/export" > "$WORK/ours$i.out" 2>&1 \
        || { echo "our import failed:"; tail -5 "$WORK/ours$i.out"; exit 1; }
done

secs() { # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03" -> seconds
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$1"
}
rss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

cpu() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f + %.2f", u, s}' "$1"; }

RT=$(secs "$WORK/roundup.time"); RM=$(rss "$WORK/roundup.time")
echo
printf '%-16s %12s %18s %12s\n' "" "wall time s" "user + system s" "max RSS MB"
printf '%-16s %12.2f %18s %12.1f\n' "Roundup 2.6" "$RT" "$(cpu "$WORK/roundup.time")" "$(echo "$RM/1024" | bc -l)"
walls=()
for i in $(seq "$RUNS"); do
    t=$(secs "$WORK/ours$i.time"); m=$(rss "$WORK/ours$i.time")
    walls+=("$t")
    printf '%-16s %12.2f %18s %12.1f\n' "ours, run $i" "$t" "$(cpu "$WORK/ours$i.time")" "$(echo "$m/1024" | bc -l)"
done
OT=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
OM=$(for i in $(seq "$RUNS"); do rss "$WORK/ours$i.time"; done | sort -n | tail -1)
count() { "$OURS" -i "$WORK/ours1" -P show_retired=both -c list "$1" | tr ',' '\n' | grep -c . || true; }
echo "items imported by ours (run 1): issue $(count issue), msg $(count msg), user $(count user)"
printf 'speed-up (Roundup / median of ours): %.1fx   memory ratio (largest of ours / Roundup): %.2f\n' \
    "$(echo "$RT/$OT" | bc -l)" "$(echo "$OM/$RM" | bc -l)"
cleanup_old
