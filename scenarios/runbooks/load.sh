#!/usr/bin/env bash
# Load: a traffic surge pushes the MTA queues past the plan's threshold (1000).  There is nothing to
# switch: watch the queues, keep the platform serving, and confirm the surge's mail drains.
. "$(dirname "$0")/lib.sh"
queued() { python3 -c 'import os,glob,sys
h=os.environ.get("MAILDRILL_HOME",".maildrill")
print(sum(1 for p in glob.glob(h+"/nodes/fe*/var/spool/mta/queue/*") if not p.endswith(".state")))'; }
step "watch the front ends' queues while the surge lasts"
for _ in $(seq 1 120); do
  n=$(queued); echo "queued: $n"
  maildrill active --json | grep -q traffic_surge || break
  sleep 1
done
step "the surge is over: wait for the queues to drain"
drained() { test "$(queued)" -lt 10; }
wait_until 300 drained
step "test"
wait_until 30 maildrill check
