#!/usr/bin/env bash
# UAS chapter (SPEC §2): the aiuum pools on uas0/uas1 are dead, or the account database failed.
# Judge: `ServicePool monitor aiuum` (CurrentProcessCount=0) / logins fail.  Steps: on every front
# end point aimc.ini [UAPI] Server1/Server2 at the backup UAS, `aimc_stop; aimc_start`.
# Withdrawal: UAS back → restore aimc.ini, restart, test.
. "$(dirname "$0")/lib.sh"
FRONTENDS=$(nodes_of frontend)
PRIMARIES=$(spec uas.nodes)
DB=$(spec uas.database)

for uas in $PRIMARIES; do
  step "judge: ServicePool monitor aiuum on $uas"
  on "$uas" ServicePool monitor aiuum || true
done
for fe in $FRONTENDS; do
  step "$fe: aimc.ini [UAPI] → the backup UAS; aimc_stop; aimc_start"
  on "$fe" sh -c 'cp opt/aimc/aimc.ini opt/aimc/aimc.ini.before-uas-plan &&
    awk "/^Server[0-9]=/ {print \";\" \$0; next} /^;Server1=/ {sub(/^;/, \"\"); print; next} {print}" \
      opt/aimc/aimc.ini.before-uas-plan > opt/aimc/aimc.ini &&
    opt/aimc/aimc_stop && opt/aimc/aimc_start'
done
step "test: a login and a message through the VIP"
wait_until 30 maildrill check

step "repair the UAS (the DBA / system administrator's work)"
for uas in $PRIMARIES; do
  if on "$uas" ServicePool monitor aiuum | grep -q "CurrentProcessCount=0"; then
    step "$uas: ServicePool start aiuum"
    on "$uas" ServicePool start aiuum
  fi
done
if ! maildrill status --json | python3 -c 'import json,sys
d=json.load(sys.stdin); sys.exit(0 if all(s["state"]=="up" for s in d["services"] if s["service"]=="acctdb") else 1)'; then
  step "database repair (stands for the DBA's work): maildrill start $DB acctdb"
  maildrill start "$DB" acctdb
fi
for fe in $FRONTENDS; do
  step "withdrawal on $fe: restore aimc.ini; aimc_stop; aimc_start"
  on "$fe" sh -c 'mv opt/aimc/aimc.ini.before-uas-plan opt/aimc/aimc.ini &&
    opt/aimc/aimc_stop && opt/aimc/aimc_start'
done
step "test"
wait_until 30 maildrill check
