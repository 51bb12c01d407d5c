#!/usr/bin/env bash
# Build the benchmark tracker: a classic SQLite tracker home installed by
# Roundup 2.6 (from PyPI, in /opt/rvenv, run as the unprivileged user rt).
#   bench/data/make_tracker.sh [DEST] [ISSUES]
# DEST defaults to /tmp/roundup-bench/roundup (owned by rt), ISSUES to 20000.
#
# Up to 20,000 issues the data is made through Roundup 2.6's own API
# (make_tracker.py, about a thousand issues a minute). Above that,
# gen_export.py writes data of the same shape as a Roundup export (about a
# minute per 100,000 issues) and our roundup-admin imports it into the home
# Roundup installed ($OUR_ADMIN, default target/release/roundup-admin);
# Roundup 2.6 then serves what we wrote.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=${1:-/tmp/roundup-bench/roundup}
issues=${2:-20000}
rv=/opt/rvenv/bin
[[ -x $rv/roundup-admin ]] || { echo "Roundup 2.6 not found in /opt/rvenv (see .ci/run)"; exit 1; }
mkdir -p "$(dirname "$dest")"
chown rt "$(dirname "$dest")"
rm -rf "$dest"
# No mail goes out while filling: the nosy reactor would try to send a
# notification per issue; the benchmark is about the web pages.
su rt -c "$rv/roundup-admin -i '$dest' install classic sqlite mail_domain=example.com,tracker_web=http://127.0.0.1:8917/bench/ >/dev/null &&
          rm '$dest/detectors/nosyreaction.py' &&
          $rv/roundup-admin -i '$dest' initialise admin >/dev/null"
if ((issues <= 20000)); then
  cp "$here/make_tracker.py" /tmp/roundup-bench-make_tracker.py
  chmod a+r /tmp/roundup-bench-make_tracker.py
  su rt -c "$rv/python /tmp/roundup-bench-make_tracker.py '$dest' $issues"
else
  admin=${OUR_ADMIN:-${CARGO_TARGET_DIR:-$root/target}/release/roundup-admin}
  [[ -x $admin ]] || { echo "no roundup-admin at $admin (set OUR_ADMIN)" >&2; exit 1; }
  export_dir="$dest.export"
  rm -rf "$export_dir"
  start=$(date +%s)
  python3 "$here/gen_export.py" "$export_dir" "$issues"
  echo "export of $issues issues written in $(($(date +%s) - start)) s ($(du -sh "$export_dir" | cut -f1))"
  chown -R rt "$export_dir"
  su rt -c "/usr/bin/time -v -o '$dest.import-time' '$admin' -i '$dest' import '$export_dir'" >/dev/null
  awk -F': ' '/Elapsed \(wall/ {t=$2} /Maximum resident/ {m=$2} END {printf "our import: %s wall, peak RSS %.1f MB\n", t, m / 1024}' "$dest.import-time"
  rm -rf "$export_dir"
fi
echo "made $dest"
