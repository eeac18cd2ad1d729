#!/usr/bin/env bash
# MSS chapter (SPEC §2): the mss process of a mailroot failed (or its whole MSS node, with the
# cluster agent dead so the cluster did not fail it over).
# Judge: mailbox access errors; the mailroot's mss does not answer.  Steps: `hagrp -switch GROUP
# -to mss2`, confirm with `hastatus`.  Withdrawal: original MSS back → switch the group home.
. "$(dirname "$0")/lib.sh"
TAKEOVER=${TAKEOVER:-$(spec mss.takeover)}

down_groups() {  # mailroot:node of every mss process that does not answer
  services_json | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join(sorted({s["service"][4:]+":"+s["node"] for s in d["services"]
                      if s["service"].startswith("mss.") and s["state"]!="up"})))'
}

any_down() { test -n "$(down_groups)"; }

step "judge: find mailroots whose mss does not answer"
wait_until 60 any_down || { echo "nothing is down"; exit 1; }
groups=$(down_groups)
echo "failed: $groups"
for entry in $groups; do
  group=${entry%%:*}
  step "hagrp -switch $group -to $TAKEOVER"
  on "$TAKEOVER" hagrp -switch "$group" -to "$TAKEOVER"
done
step "confirm: hastatus -sum"
on "$TAKEOVER" hastatus -sum
maildrill check >/dev/null && step "service restored on $TAKEOVER (test message delivered)"

step "withdrawal: bring the original MSS back"
for entry in $groups; do
  node=${entry##*:}
  if ! on "$node" hastatus -sum | grep -Eq "^A +$node +RUNNING"; then
    step "repair of $node (stands for the hardware/OS repair): maildrill revert --all"
    maildrill revert --all
    wait_until 30 sh -c "maildrill exec $node -- hastatus -sum | grep -Eq '^A +$node +RUNNING'" \
      || { maildrill start "$node" had; }
  fi
done
for entry in $groups; do
  group=${entry%%:*}; node=${entry##*:}
  step "hagrp -switch $group -to $node (home)"
  on "$node" hagrp -switch "$group" -to "$node"
done
step "test: hastatus -sum and a real message"
on "$TAKEOVER" hastatus -sum
wait_until 30 maildrill check
