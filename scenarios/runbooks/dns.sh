#!/usr/bin/env bash
# DNS: a hosted domain's MX is wrong or missing; Internet mail for it cannot arrive.
# Judge: `dig MX <domain>` on the DNS server.  Fix: the zone file (the DNS administrator's repair,
# here `maildrill revert --all`, which restores the zone file as provisioned); verify with dig.
. "$(dirname "$0")/lib.sh"
DNS=$(maildrill endpoints --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dns"])')
HOST=${DNS%:*}; PORT=${DNS##*:}
broken() {  # hosted domains whose MX does not name mx.<domain>
  for d in $(spec domains); do
    dig +short +time=2 +tries=1 @"$HOST" -p "$PORT" MX "$d" | grep -q " mx.$d.$" || echo "$d"
  done
}
any_broken() { test -n "$(broken)"; }
step "judge: dig MX of every hosted domain"
wait_until 60 any_broken || { echo "every MX is right"; exit 1; }
echo "wrong MX: $(broken)"
step "fix the zone files on the DNS server (DNS administrator): maildrill revert --all"
maildrill revert --all
step "verify: dig MX answers mx.<domain> again, and mail flows"
test -z "$(broken)"
wait_until 30 maildrill check
