"""CLI commands that work inside a node: `exec`, `shell`, and the customer-service mail-log search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import click

from testbed.errors import MaildrillError
from testbed.home import Home


def run_on_node(home: Home, node: str, argv: list[str]) -> int:
    from testbed.runtime.registry import backend_for

    home.topology.node(node)  # unknown node → error listing the nodes
    cmd, env, cwd = backend_for(home).node_command(node, argv)
    try:
        return subprocess.run(cmd, env=env, cwd=cwd, check=False).returncode
    except FileNotFoundError as exc:
        raise MaildrillError(f"{argv[0]}: command not found") from exc


def parse_since(text: str, now: float | None = None) -> float:
    """today | <n>m (months, as the plan's "last 6 months") | <n>d | <n>h → an epoch time."""
    now = time.time() if now is None else now
    if text == "today":
        t = time.localtime(now)
        return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
    units = {"m": 30.5 * 86400, "d": 86400, "h": 3600}
    if len(text) >= 2 and text[:-1].isdigit() and text[-1] in units:
        return now - int(text[:-1]) * units[text[-1]]
    raise click.BadParameter("use today, <n>m (months), <n>d or <n>h", param_hint="--since")


def search_mail_log(home: Home, address: str, since: float) -> list[dict[str, Any]]:
    needle_from, needle_to = f"from=<{address.lower()}>", f"to=<{address.lower()}>"
    found = []
    for fe in home.topology.frontends:
        for log in sorted(home.log_dir(fe.name).glob("maillog*")):
            with log.open(errors="replace") as f:
                for line in f:
                    low = line.lower()
                    if needle_from not in low and needle_to not in low:
                        continue
                    try:
                        stamp = time.mktime(time.strptime(line[:19], "%Y/%m/%d %H:%M:%S"))
                    except ValueError:
                        continue
                    if stamp >= since:
                        direction = "sent" if needle_from in low else "received"
                        found.append(
                            {
                                "node": fe.name,
                                "time": stamp,
                                "kind": direction,
                                "line": line.rstrip("\n"),
                            }
                        )
    return sorted(found, key=lambda r: r["time"])


def register(cli: click.Group, pass_ctx: Any) -> None:
    @cli.command("exec", context_settings={"ignore_unknown_options": True})
    @click.argument("node")
    @click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
    @pass_ctx
    def exec_(obj: Any, node: str, argv: tuple[str, ...]) -> None:
        """Run a command on a node: `maildrill exec fe01 -- cat /opt/aimc/aimc.ini`."""
        sys.exit(run_on_node(obj.home, node, list(argv)))

    @cli.command()
    @click.argument("node")
    @pass_ctx
    def shell(obj: Any, node: str) -> None:
        """An interactive shell on a node, with the plan's commands on PATH."""
        sys.exit(run_on_node(obj.home, node, [os.environ.get("SHELL", "/bin/bash")]))

    @cli.command("mail-log")
    @click.option("--user", "address", required=True, help="The user's address.")
    @click.option("--since", default="today", show_default=True, help="today, 6m, 7d, 12h")
    @click.option("--json", "as_json", is_flag=True)
    @pass_ctx
    def mail_log(obj: Any, address: str, since: str, as_json: bool) -> None:
        """Send and receive records of one user from every front end's mail log."""
        records = search_mail_log(obj.home, address, parse_since(since))
        if as_json:
            click.echo(json.dumps(records, indent=1))
            return
        for r in records:
            click.echo(f"{r['node']}  {r['kind']:<8} {r['line']}")
        if not records:
            click.echo(f"no mail-log records for {address} since {since}")
