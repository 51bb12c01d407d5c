#!/usr/bin/env bash
# Import benchmark: the same synthetic classic-tracker export (ISSUES issues,
# one message each, 200 users, journals) imported by Roundup 2.6's
# roundup-admin and by ours, each into a freshly initialised tracker,
# timed with /usr/bin/time -v (wall time and maximum resident set size).
#
# Usage: bench/import/run.sh [ISSUES] [OUR_BINARY]
#   ISSUES      default 20000
#   OUR_BINARY  default target/release/roundup-admin, else target/debug/
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
WORK=${BENCH_DIR:-/tmp/rr-bench-import}

[ -x "$ROUNDUP" ] || { echo "skipped: $ROUNDUP is not installed"; exit 0; }
id rt >/dev/null 2>&1 || { echo "skipped: there is no user rt to run Roundup as"; exit 0; }
[ -x "$OURS" ] || { echo "no roundup-admin binary at $OURS (cargo build -p roundup-admin --release)"; exit 1; }

if [ -e "$WORK" ]; then
    echo "removing the previous run's files in $WORK ..."
    rm -rf "$WORK"
    # ext4 without a journal (as on the development machine) passes over
    # inodes freed in the last minute when it allocates new ones: creating
    # thousands of files soon after deleting thousands is then many times
    # slower, for whichever program comes first. Let the deletion age.
    sync
    echo "waiting 65 s for the freed inodes to age ..."
    sleep 65
fi
mkdir -p "$WORK"
echo "generating an export with $ISSUES issues in $WORK/export ..."
python3 "$HERE/gen_export.py" "$WORK/export" "$ISSUES"
du -sh "$WORK/export" | sed 's/^/export size: /'
chown -R rt "$WORK"

as_rt() { su rt -s /bin/bash -c "cd '$WORK' && $*"; }

echo "Roundup 2.6: install + initialise ..."
as_rt "$ROUNDUP -i $WORK/roundup install classic sqlite mail_domain=example.com >/dev/null && $ROUNDUP -i $WORK/roundup initialise admin"
echo "Roundup 2.6: import ..."
as_rt "/usr/bin/time -v -o $WORK/roundup.time $ROUNDUP -i $WORK/roundup import $WORK/export > $WORK/roundup.out 2>&1" \
    || { echo "Roundup's import failed:"; tail -5 "$WORK/roundup.out"; exit 1; }

echo "ours: install + initialise ..."
"$OURS" -i "$WORK/ours" install classic sqlite mail_domain=example.com >/dev/null
"$OURS" -i "$WORK/ours" initialise admin
echo "ours: import ..."
/usr/bin/time -v -o "$WORK/ours.time" "$OURS" -i "$WORK/ours" import "$WORK/export" > "$WORK/ours.out" 2>&1 \
    || { echo "our import failed:"; tail -5 "$WORK/ours.out"; exit 1; }

secs() { # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03" -> seconds
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$1"
}
rss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

RT=$(secs "$WORK/roundup.time"); RM=$(rss "$WORK/roundup.time")
OT=$(secs "$WORK/ours.time"); OM=$(rss "$WORK/ours.time")
count() { "$OURS" -i "$WORK/ours" -P show_retired=both -c list "$1" | tr ',' '\n' | grep -c . || true; }
echo
echo "items imported by ours: issue $(count issue), msg $(count msg), user $(count user)"
printf '%-14s %12s %14s\n' "" "wall time s" "max RSS MB"
printf '%-14s %12.2f %14.1f\n' "Roundup 2.6" "$RT" "$(echo "$RM/1024" | bc -l)"
printf '%-14s %12.2f %14.1f\n' "ours" "$OT" "$(echo "$OM/1024" | bc -l)"
printf 'speed-up: %.1fx   memory ratio (ours/Roundup): %.2f\n' \
    "$(echo "$RT/$OT" | bc -l)" "$(echo "$OM/$RM" | bc -l)"
