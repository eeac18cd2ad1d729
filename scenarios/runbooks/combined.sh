#!/usr/bin/env bash
# Two chapters at once: the account database (UAS chapter) and an mss process (MSS chapter).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
step "UAS chapter first (logins affect every user)"
bash "$here/uas.sh"
step "then the MSS chapter"
bash "$here/mss.sh"
