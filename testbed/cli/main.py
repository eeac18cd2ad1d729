"""`maildrill` — the command line: a stable contract for people, scripts and CI.

Every command works on one testbed home (--home, $MAILDRILL_HOME, default ./.maildrill). Expected
errors (MaildrillError) print one line to stderr and exit 1; usage errors exit 2 (click).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from testbed.cli.drill_cmd import register as register_drill_commands
from testbed.cli.faults_cmd import register as register_faults
from testbed.cli.faults_cmd import repair
from testbed.cli.node_cmd import register as register_node_commands
from testbed.cli.scenario_cmd import register as register_scenario_commands
from testbed.errors import AlreadyRunningError, MaildrillError
from testbed.home import ENV_HOME, Home
from testbed.runtime.backend import Backend, ServiceState
from testbed.runtime.registry import BACKENDS, backend_for, remember


class Context:
    def __init__(self, home: Home) -> None:
        self.home = home

    def backend(self, name: str | None = None) -> Backend:
        return backend_for(self.home, name)


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=ENV_HOME,
    help="Folder holding the testbed (default ./.maildrill).",
)
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """maildrill: a mail-platform testbed that breaks on purpose and scores the recovery."""
    ctx.obj = Context(Home(home))


def node_table(states: list[ServiceState]) -> str:
    """One row per node: its address, its services and whether all of them are up."""
    nodes: dict[str, list[ServiceState]] = {}
    for s in states:
        nodes.setdefault(s.node, []).append(s)
    rows = [("NODE", "ADDRESS", "STATE", "SERVICES")]
    for node, services in nodes.items():
        down = [s.service for s in services if s.state not in ("up", "cold")]
        cold = all(s.state == "cold" for s in services)
        state = (
            "cold"
            if cold
            else "up"
            if not down
            else ("down" if len(down) == len(services) else "degraded")
        )
        names = (
            " ".join(
                f"{s.service}{'' if s.state == 'up' else '(' + s.state + ')'}" for s in services
            )
            or "-"
        )
        rows.append((node, services[0].address, state, names))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows
    )


@cli.command()
@click.option(
    "--topology",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Topology file (default: the plan's platform).",
)
@click.option("--users", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--backend", type=click.Choice(sorted(BACKENDS)), default=None)
@pass_ctx
def up(obj: Context, topology: Path | None, users: int, seed: int, backend: str | None) -> None:
    """Provision the testbed and start every node; returns when all are healthy."""
    runner = obj.backend(backend)
    repair(obj.home, teardown=not runner.is_up())  # leftovers of earlier faults
    try:
        states = runner.up(topology, users, seed)
    except AlreadyRunningError:
        click.echo(f"maildrill is already up in {obj.home.root}")
        click.echo(node_table(runner.status()))
        return
    remember(obj.home, runner)
    click.echo(node_table(states))
    timings = getattr(runner, "timings", {})
    total = sum(timings.values())
    click.echo(f"up: {len(states)} services, {users} users, {total:.2f} s")


@cli.command()
@click.option("--topology", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--users", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_ctx
def compose(
    obj: Context, topology: Path | None, users: int, seed: int, output: Path | None
) -> None:
    """Provision a docker testbed and write its compose file (start it with docker compose)."""
    from testbed.runtime.compose import write_compose
    from testbed.runtime.docker_backend import DockerBackend

    backend = DockerBackend(obj.home)
    if backend.is_up():
        raise MaildrillError(f"a testbed is up in {obj.home.root}; `maildrill down` first")
    repair(obj.home, teardown=True)
    out = write_compose(backend, topology, users, seed, output or obj.home.root / "compose.yaml")
    remember(obj.home, backend)
    click.echo(f"wrote {out}; start it with: docker compose -p {backend.prefix} -f {out} up -d")
    click.echo("then `maildrill status`, `check`, `drill` … as usual; `maildrill down` removes it")


@cli.command()
@pass_ctx
def down(obj: Context) -> None:
    """Stop every process of the testbed; nothing is left behind."""
    repair(obj.home, teardown=True)  # faults reverted, storage restored, before stopping
    stopped = obj.backend().down()
    click.echo(f"down: {stopped} processes stopped")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def status(obj: Context, as_json: bool) -> None:
    """Every node and service with its address, pid and state."""
    states = obj.backend().status()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "services": [s.as_dict() for s in states],
                    "up": all(s.state in ("up", "cold") for s in states),
                },
                indent=1,
            )
        )
    else:
        click.echo(node_table(states))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def endpoints(obj: Context, as_json: bool) -> None:
    """Where clients connect: the VIP for SMTP, submission, POP3, IMAP, HTTP; and the DNS server."""
    from testbed.topology.endpoints import client_endpoints

    eps = client_endpoints(_topology(obj))
    click.echo(json.dumps(eps) if as_json else "\n".join(f"{k:<11} {v}" for k, v in eps.items()))


@cli.command()
@click.option("--class", "cls", type=click.Choice(["vip", "paying", "regular"]))
@click.option("--limit", type=click.IntRange(0), default=None)
@click.option("--mailroot", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def users(
    obj: Context, cls: str | None, limit: int | None, mailroot: str | None, as_json: bool
) -> None:
    """The testbed's users with their passwords (test data)."""
    from testbed.runtime.provision import read_users

    _topology(obj)
    rows = [
        u
        for u in read_users(obj.home)
        if (cls is None or u["cls"] == cls) and (mailroot is None or u["mailroot"] == mailroot)
    ]
    rows = rows[:limit] if limit is not None else rows
    out = [
        {
            "address": u["address"],
            "password": u["password"],
            "class": u["cls"],
            "mailroot": u["mailroot"],
            "level": u["level"],
            "quota": u["quota"],
        }
        for u in rows
    ]
    if as_json:
        click.echo(json.dumps(out, indent=1))
    else:
        for u in out:
            click.echo(f"{u['address']:<40} {u['password']:<12} {u['class']:<8} {u['mailroot']}")


@cli.command()
@pass_ctx
def check(obj: Context) -> None:
    """Send and read one message through SMTP, POP3 and IMAP, and relay one to the Internet."""
    from testbed.probes.roundtrip import RoundTrip
    from testbed.runtime.provision import read_users
    from testbed.topology.endpoints import client_endpoints

    topo = _topology(obj)
    people = read_users(obj.home)
    sender = next(u for u in people if u["cls"] == "vip")
    rcpt = next(u for u in people if u["cls"] == "regular")
    steps = RoundTrip(topo, client_endpoints(topo), sender, rcpt).run()
    for step in steps:
        mark = "ok  " if step.ok else "FAIL"
        click.echo(f"{mark} {step.name:<32} {step.seconds * 1000:8.1f} ms  {step.detail}")
    if not all(s.ok for s in steps) or len(steps) < 5:
        raise MaildrillError("round trip failed")
    click.echo(f"round trip ok: {sender['address']} -> {rcpt['address']} and to the Internet")


def _topology(obj: Context) -> Any:
    if not obj.home.exists:
        raise MaildrillError(f"no testbed in {obj.home.root} (run `maildrill up`)")
    return obj.home.topology


@cli.command()
@click.argument("node")
@click.argument("service")
@pass_ctx
def start(obj: Context, node: str, service: str) -> None:
    """Start one service of a node (e.g. after `kill`)."""
    obj.backend().start(node, service)
    click.echo(f"{node}/{service} started")


@cli.command()
@click.argument("node")
@click.argument("service", required=False)
@click.option(
    "--signal",
    "sig",
    default="TERM",
    show_default=True,
    type=click.Choice(["TERM", "KILL", "STOP", "CONT", "INT", "HUP"]),
)
@pass_ctx
def kill(obj: Context, node: str, service: str | None, sig: str) -> None:
    """Send a signal to one service of a node, or to all of them (a node "dies" with KILL)."""
    backend = obj.backend()
    names = [service] if service else [s.service for s in backend.status() if s.node == node]
    if not names:
        obj.home.topology.node(node)  # unknown node → error listing the nodes
    hit = [n for n in names if backend.signal(node, n, signal.Signals[f"SIG{sig}"])]
    click.echo(f"SIG{sig} sent to {node}: {' '.join(hit) or 'nothing was running'}")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", type=click.Choice(["hagrp", "hastatus", "hastop"]))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--node", default=None, help="MSS node the command runs on (default: the first).")
@pass_ctx
def cluster(obj: Context, command: str, args: tuple[str, ...], node: str | None) -> None:
    """The cluster manager's commands: hagrp -switch GROUP -to NODE, hastatus, hastop -local."""
    from testbed.components.cluster import commands

    topo = _topology(obj)
    node = node or topo.spec.mss.nodes[0]
    topo.node(node)
    sys.exit(getattr(commands, command)(obj.home, list(args), node))


register_faults(cli)  # faults, inject, revert, doctor
register_node_commands(cli, pass_ctx)  # exec, shell, mail-log
register_scenario_commands(cli)  # schema, validate
register_drill_commands(cli, pass_ctx)  # drill, monitor, traffic, ledger


def main() -> None:
    try:
        cli(standalone_mode=True)
    except MaildrillError as exc:
        click.echo(f"maildrill: {exc}", err=True)
        sys.exit(1)
