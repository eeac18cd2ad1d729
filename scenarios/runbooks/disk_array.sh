#!/usr/bin/env bash
# Disk array chapter (SPEC §2): the array is unusable, or an MSS's HBA path to it failed.
# Judge: `ls /dev/clsp*` on each MSS lists the array devices only while the path works.
# Steps: try to repair first; if not repaired by the decision point, start the plan: temporary
# mailroots on the MSS local disks (/home/m0, /home1/m2, ...), stop the cluster (`hastop -local
# -force`), back up mss.ini as mss.ini.<operator>.<time>, copy mss_yj.ini over it, restart mss,
# watch restart.log, test.  Withdrawal (array repaired): restore mss.ini, restart mss on the array,
# start the cluster, `migrate.sh <mailroot>` (VIP/paying users first), remove empty temp mailroots.
. "$(dirname "$0")/lib.sh"
REPAIR_WAIT=${REPAIR_WAIT:-3}      # the plan's decision point is 15 min; drills keep it short
OPERATOR=${OPERATOR:-drill}
MSS_NODES=$(spec mss.nodes)

placement() {  # mailroot:node of every group
  maildrill exec "$(echo $MSS_NODES | cut -d' ' -f1)" -- hastatus -sum |
    awk '$1=="B" {print $2":"$3}'
}
no_devices() { for n in $MSS_NODES; do on "$n" sh -c 'ls dev/clsp* >/dev/null 2>&1' || return 0; done; return 1; }

step "judge: ls /dev/clsp* on every MSS"
wait_until 60 no_devices || { echo "every MSS sees the array"; exit 1; }
for n in $MSS_NODES; do echo "$n: $(on "$n" sh -c 'ls dev/clsp* 2>/dev/null | wc -l') array devices"; done
step "try to repair first (decision point: ${REPAIR_WAIT}s in this drill, 15 min in the plan)"
sleep "$REPAIR_WAIT"
PLACED=$(placement)
step "start the plan: temporary mailroots on the MSS local disks"
for entry in $PLACED; do
  root=${entry%%:*}; node=${entry##*:}
  dir=$(on "$node" sh -c "awk -F= '/^MailDir/ {print \$2}' opt/aimc/$root/config/mss_yj.ini")
  on "$node" mkdir -p "${dir#/}"
  echo "$node: temporary mailroot $dir for $root"
done
for n in $MSS_NODES; do
  step "$n: hastop -local -force (stop the cluster, leave the applications)"
  on "$n" hastop -local -force
done
stamp=$(date +%H%M%S)
for entry in $PLACED; do
  root=${entry%%:*}; node=${entry##*:}
  step "$node: mss.ini → mss.ini.$OPERATOR.$stamp; mss_yj.ini over mss.ini; restart mss $root"
  on "$node" sh -c "cd opt/aimc/$root/config && cp mss.ini mss.ini.$OPERATOR.$stamp && cp mss_yj.ini mss.ini"
  maildrill kill "$node" "mss.$root" --signal TERM
  wait_until 20 svc_down "$node" "mss.$root"
  maildrill start "$node" "mss.$root"
  on "$node" tail -n 1 var/log/restart.log
done
step "test: mail through the temporary mailroots"
wait_until 60 maildrill check

step "the array is repaired (stands for the vendor's repair): maildrill revert --all"
maildrill revert --all
devices_back() { ! no_devices; }
wait_until 60 devices_back
for entry in $PLACED; do
  root=${entry%%:*}; node=${entry##*:}
  step "$node: restore mss.ini; restart mss $root on the array"
  on "$node" sh -c "cd opt/aimc/$root/config && cp mss.ini.$OPERATOR.$stamp mss.ini"
  maildrill kill "$node" "mss.$root" --signal TERM
  wait_until 20 svc_down "$node" "mss.$root"
  maildrill start "$node" "mss.$root"
  on "$node" tail -n 1 var/log/restart.log
done
for n in $MSS_NODES; do
  step "$n: start the cluster agent again"
  maildrill start "$n" had || true
done
for classes in vip,paying regular; do   # key users of every mailroot before anyone else
  for entry in $PLACED; do
    root=${entry%%:*}; node=${entry##*:}
    step "$node: migrate.sh $root --class $classes"
    on "$node" opt/aimc/setup/migrate.sh "$root" --class "$classes"
  done
done
for entry in $PLACED; do
  root=${entry%%:*}; node=${entry##*:}
  dir=$(on "$node" sh -c "awk -F= '/^MailDir/ {print \$2}' opt/aimc/$root/config/mss_yj.ini")
  if [ -z "$(on "$node" sh -c "find ${dir#/} -path '*/cur/*' -type f | head -1")" ]; then
    step "$node: remove the empty temporary mailroot $dir"
    on "$node" rm -rf "${dir#/}"
  else
    echo "$node: $dir still holds mail (over quota); left for the customer service"
  fi
done
step "test"
wait_until 60 maildrill check
