#!/usr/bin/env bash
# DNS: a hosted domain's MX is wrong or missing.  Judge with dig; fix the zone (the DNS
# administrator's repair, here `maildrill revert --all`, which restores the zone file); verify.
. "$(dirname "$0")/lib.sh"
DNS=$(spec dns.name)
step "judge: dig MX of the hosted domains"
step "fix the zone files on $DNS (DNS administrator): maildrill revert --all"
maildrill revert --all
step "test: the MX answers again and mail flows"
wait_until 30 maildrill check
