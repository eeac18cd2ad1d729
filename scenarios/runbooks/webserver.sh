#!/usr/bin/env bash
# Webserver chapter (SPEC §2): both main webservers' processes abnormal, or the webroot attacked.
# Judge: open each server's port 80 (here ports.http) and admin port 2080.  Steps: apachectl
# stop/start on both; if the webroot is damaged, `tar xvf webroot.<date>.tar` in /opt/aimc, then
# restart.  The backup webserver takes over if the mains stay down; withdrawal: stop it again.
. "$(dirname "$0")/lib.sh"
MAINS=$(spec web.nodes)
DATE=$(spec web.webroot_backup_date)
for web in $MAINS; do
  step "judge: $web port 80 and admin port"
  on "$web" apachectl status || true
  if ! on "$web" sh -c "cd opt/aimc && tar -df webroot.$DATE.tar" >/dev/null 2>&1; then
    step "$web: webroot damaged → cd /opt/aimc && tar xvf webroot.$DATE.tar"
    on "$web" sh -c "cd opt/aimc && rm -rf webroot && tar xvf webroot.$DATE.tar"
  fi
  step "$web: apachectl stop; apachectl start"
  on "$web" apachectl stop || true
  on "$web" apachectl start
done
step "test: WebMail through the VIP"
wait_until 30 maildrill check
