#!/usr/bin/env bash
# Two-word full-text searches on a bench tracker (bench/data/make_tracker.sh),
# through Roundup's word tables and through our inverted index, each with
# the message-to-issue step. Builds the index first (roundup-admin reindex).
#   bench/search/run.sh [TRACKER] [SEARCHES]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
home=${1:-/tmp/roundup-bench/roundup}
n=${2:-40}
cd "$here"
target=${CARGO_TARGET_DIR:-$here/target}
if [[ ! -f $home/db/text-index/meta.json || -f $home/db/text-index/STALE ]]; then
  cargo build -q -p roundup-admin
  time "$target/debug/roundup-admin" -i "$home" reindex
fi
cargo build -q --profile profiling -p roundup-textindex --example search_bench
"$target/profiling/examples/search_bench" "$home/db" "$n"
