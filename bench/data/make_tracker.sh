#!/usr/bin/env bash
# Build the benchmark tracker with Roundup 2.6 (from PyPI, in /opt/rvenv, run
# as the unprivileged user rt): a classic SQLite tracker with 20,000 issues.
#   bench/data/make_tracker.sh [DEST] [ISSUES]
# DEST defaults to /tmp/roundup-bench/roundup (owned by rt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-/tmp/roundup-bench/roundup}
issues=${2:-20000}
rv=/opt/rvenv/bin
[[ -x $rv/roundup-admin ]] || { echo "Roundup 2.6 not found in /opt/rvenv (see .ci/run)"; exit 1; }
mkdir -p "$(dirname "$dest")"
chown rt "$(dirname "$dest")"
rm -rf "$dest"
cp "$here/make_tracker.py" /tmp/roundup-bench-make_tracker.py
chmod a+r /tmp/roundup-bench-make_tracker.py
# No mail goes out while filling: the nosy reactor would try to send
# 20,000 notifications; the benchmark is about the web pages.
su rt -c "$rv/roundup-admin -i '$dest' install classic sqlite mail_domain=example.com,tracker_web=http://127.0.0.1:8917/bench/ >/dev/null &&
          rm '$dest/detectors/nosyreaction.py' &&
          $rv/roundup-admin -i '$dest' initialise admin >/dev/null &&
          $rv/python /tmp/roundup-bench-make_tracker.py '$dest' $issues"
echo "made $dest"
