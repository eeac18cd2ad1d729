#!/usr/bin/env bash
# Network chapter (SPEC §2): both Alteon 184 units unusable; services unreachable through the VIP.
# Steps: activate the backup Alteon 180e with its prepared configuration; watch the applications
# recover.  Withdrawal: primaries back → move the VIP home, put the 180e back to cold.
. "$(dirname "$0")/lib.sh"
PRIMARY=$(spec lb.nodes | cut -d' ' -f1)
BACKUP=$(spec lb.backup)
step "judge: the VIP does not answer"
step "activate $BACKUP with its prepared configuration"
maildrill start "$BACKUP" alteon
step "watch the applications recover"
wait_until 60 maildrill check
step "repair of the primary units (stands for the vendor's repair): maildrill revert --all"
maildrill revert --all
wait_until 30 sh -c "maildrill exec $PRIMARY -- alteon status | grep -Eq 'STANDBY|ACTIVE'"
step "withdrawal: alteon vip take on $PRIMARY; stop $BACKUP"
on "$PRIMARY" alteon vip take
maildrill kill "$BACKUP" alteon --signal TERM
step "test"
wait_until 30 maildrill check
