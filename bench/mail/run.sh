#!/usr/bin/env bash
# Mail gateway benchmark: an mbox of N messages (new issues and replies,
# bench/mail/gen_mbox.py) fed to Roundup 2.6's roundup-mailgw and to ours
# (`roundup-mailgw HOME mailbox FILE`), each on a fresh classic home made
# by Roundup 2.6 with twenty registered senders. The stock nosyreaction
# puts an issue's opener on its nosy list, so every reply by someone else
# sends a notification through the real SMTP server on 127.0.0.1:25
# (postfix, as .ci/run sets it up).
#
#   bench/mail/run.sh [N]          (default 1000)
#
# Prints wall time, messages per second, CPU seconds and peak RSS of
# each, and the number of notifications each handed to postfix. Figures
# and what bounds the ratio: README.md.
# Needs: /opt/rvenv (Roundup 2.6), user rt, postfix on 127.0.0.1:25 and a
# release build (cargo build --release -p roundup-mailgw).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-1000}
bin=${BENCH_BIN:-$root/target/release}
work=/tmp/roundup-mail-bench
rm -rf "$work"
mkdir -p "$work"
chmod 777 "$work"

(exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null || {
  echo "no SMTP server on 127.0.0.1:25 (run .ci/run's postfix set-up)" >&2
  exit 1
}

make_home() { # make_home DIR
  local home=$1
  su rt -c "/opt/rvenv/bin/roundup-admin -i $home install classic sqlite \
    mail_domain=example.com,mail_host=localhost,tracker_web=http://tracker.example/,password_pbkdf2_default_rounds=1000" >/dev/null
  su rt -c "/opt/rvenv/bin/roundup-admin -i $home initialise secret" >/dev/null
  for i in $(seq -w 1 20); do
    su rt -c "/opt/rvenv/bin/roundup-admin -i $home create user username=user$i address=user$i@example.com roles=User" >/dev/null
  done
}

make_home "$work/theirs"
make_home "$work/ours"
python3 "$root/bench/mail/gen_mbox.py" "$n" "$work/mbox"
cp "$work/mbox" "$work/theirs.mbox"
cp "$work/mbox" "$work/ours.mbox"
chown rt "$work/theirs.mbox" "$work/ours.mbox" "$work/theirs" "$work/ours" -R

sent_before=$(grep -c 'status=sent' /var/log/postfix.log 2>/dev/null || echo 0)
measure() { # measure LABEL CMD...
  local label=$1
  shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$work/$label.rss" "$@" >"$work/$label.log" 2>&1
  end=$(date +%s.%N)
  local secs
  secs=$(echo "$end - $start" | bc -l)
  local rss user sys
  read -r rss user sys <"$work/$label.rss"
  # CPU seconds (user + system) beside wall time: on a machine shared
  # with other work the CPU time varies much less than the wall time.
  printf '%-12s %8.1f s  %8.1f msg/s  cpu %6.2f s (user %.2f, sys %.2f)  peak RSS %6.1f MB\n' \
    "$label" "$secs" "$(echo "$n / $secs" | bc -l)" "$(echo "$user + $sys" | bc -l)" "$user" "$sys" "$(echo "$rss / 1024" | bc -l)"
  echo "$secs" >"$work/$label.secs"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
measure roundup su rt -c "/opt/rvenv/bin/roundup-mailgw $work/theirs mailbox $work/theirs.mbox"
sleep 5
mid=$(grep -c 'status=sent' /var/log/postfix.log 2>/dev/null || echo 0)
measure ours su rt -c "$bin/roundup-mailgw $work/ours mailbox $work/ours.mbox"
sleep 5
after=$(grep -c 'status=sent' /var/log/postfix.log 2>/dev/null || echo 0)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'ratio (ours / Roundup, messages per second): %.1fx\n' "$(echo "$(cat "$work/roundup.secs") / $(cat "$work/ours.secs")" | bc -l)"
for side in theirs ours; do
  issues=$(su rt -c "/opt/rvenv/bin/roundup-admin -i $work/$side list issue" | wc -l)
  msgs=$(su rt -c "/opt/rvenv/bin/roundup-admin -i $work/$side list msg" | wc -l)
  echo "$side: $issues issues, $msgs messages, mbox left $(wc -c <"$work/$side.mbox") bytes"
done
echo "notifications delivered by postfix: Roundup $((mid - sent_before)), ours $((after - mid))"
# Mail ours could not hand over (postfix stopped meanwhile, e.g. by a
# test of an SMTP outage) waits in its outbox: such a run is not a fair
# figure.
left=$(python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
t = c.execute("select count(*) from sqlite_master where name=\"__outbox\"").fetchone()[0]
print(c.execute("select count(*) from __outbox").fetchone()[0] if t else 0)' "$work/ours/db/db")
echo "ours: notifications left in the outbox: $left"
