"""The plan's commands, run on the nodes with `maildrill exec`, acting on the live testbed."""

from __future__ import annotations

import json

from integration_support import eventually

NETWORK = "127.0.32.0/24"
# The plan's edit: comment out Server1/Server2, uncomment the backup UAS line, keep the original.
POINT_AT_BACKUP = (
    'cp opt/aimc/aimc.ini opt/aimc/aimc.ini.orig && awk \'/^Server[0-9]=/ {print ";" $0; next} '
    '/^;Server1=/ {sub(/^;/, ""); print; next} {print}\' opt/aimc/aimc.ini.orig > opt/aimc/aimc.ini'
)


def node_exec(testbed, node, *argv, check=True):
    return testbed.cli("exec", node, "--", *argv, check=check)


def test_exec_runs_in_the_node_with_its_files_and_commands(testbed):
    ini = node_exec(testbed, "fe01", "sh", "-c", "cat opt/aimc/aimc.ini").stdout
    assert "[UAPI]" in ini and "Server1=" in ini
    assert (
        "CurrentProcessCount=2"
        in node_exec(testbed, "uas0", "ServicePool", "monitor", "aiuum").stdout
    )
    assert node_exec(testbed, "mss0", "sh", "-c", "ls dev/clsp*").stdout.count("clsp") == 6
    exit_code = node_exec(testbed, "fe01", "sh", "-c", "exit 7", check=False).returncode
    assert exit_code == 7  # passed through
    unknown = testbed.cli("exec", "nonode", "--", "true", check=False)
    assert unknown.returncode == 1 and "nodes are: fe01" in unknown.stderr
    misuse = node_exec(testbed, "uas0", "ServicePool", "frobnicate", check=False)
    assert misuse.returncode == 2 and "usage: ServicePool" in misuse.stdout


def test_uas_chapter_backup_uas_through_aimc_ini(testbed):
    """Both UAS pools dead → logins fail; aimc.ini → backup UAS + aimc_stop/aimc_start → they work."""
    user = testbed.user("paying")
    testbed.cli("kill", "uas0", "--signal", "KILL")
    testbed.cli("kill", "uas1", "--signal", "KILL")
    try:
        assert (
            "CurrentProcessCount=0"
            in node_exec(testbed, "uas0", "ServicePool", "monitor", "aiuum").stdout
        )
        assert not testbed.can_login_imap(user)
        for fe in testbed.frontends():
            node_exec(testbed, fe, "sh", "-c", POINT_AT_BACKUP)
            out = node_exec(
                testbed, fe, "sh", "-c", "opt/aimc/aimc_stop; opt/aimc/aimc_start"
            ).stdout
            assert "imap started" in out
        assert eventually(lambda: testbed.can_login_imap(user), timeout=30)
    finally:
        for node in ("uas0", "uas1"):
            node_exec(testbed, node, "ServicePool", "start", "aiuum")
        for fe in testbed.frontends():
            node_exec(
                testbed,
                fe,
                "sh",
                "-c",
                "mv opt/aimc/aimc.ini.orig opt/aimc/aimc.ini && "
                "opt/aimc/aimc_stop; opt/aimc/aimc_start",
            )
    assert eventually(lambda: testbed.can_login_imap(user), timeout=30)


def test_hagrp_switch_moves_a_mailroot_and_mail_stays_readable(testbed):
    user = testbed.user("regular", mailroot="m4")
    msg_id = testbed.send(testbed.user("vip"), user["address"], subject="before the switch")
    assert eventually(lambda: msg_id in testbed.inbox_ids(user))
    out = node_exec(testbed, "mss1", "hagrp", "-switch", "m4", "-to", "mss2").stdout
    assert "ONLINE on mss2" in out
    assert "m4" in node_exec(testbed, "mss2", "hastatus", "-sum").stdout
    assert eventually(lambda: msg_id in testbed.inbox_ids(user), timeout=30)
    node_exec(testbed, "mss2", "hagrp", "-switch", "m4", "-to", "mss1")


def test_mail_log_search_per_user(testbed):
    sender, rcpt = testbed.user("vip"), testbed.user("regular")
    msg_id = testbed.send(sender, rcpt["address"], subject="find me in the log")
    assert eventually(lambda: msg_id in testbed.inbox_ids(rcpt))
    records = json.loads(
        testbed.cli("mail-log", "--user", rcpt["address"], "--since", "6m", "--json").stdout
    )
    assert any(r["kind"] == "received" and "(find me in the log/" in r["line"] for r in records)
    text = testbed.cli("mail-log", "--user", sender["address"]).stdout
    assert "Mail.LL" in text and "OK from=<" in text
