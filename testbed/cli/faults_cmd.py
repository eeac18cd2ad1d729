"""CLI commands of the fault injector: `faults`, `inject`, `revert`, `doctor`.

Registered on the main group by `register(cli)`; they read the home from the group's context
object (`.home`), so this module does not import testbed.cli.main.
"""

from __future__ import annotations

import json
from typing import Any

import click

from testbed.errors import MaildrillError
from testbed.faults.base import Effect, parse_duration
from testbed.home import Home


def _home(ctx: click.Context) -> Home:
    home = ctx.find_root().obj.home
    assert isinstance(home, Home)
    return home


def _params(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--param")
        out[key.strip()] = value
    return out


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command("faults")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def faults_cmd(as_json: bool) -> None:
    """The fault catalogue: each fault with its description and parameters."""
    from testbed.faults.registry import catalogue

    items = catalogue()
    if as_json:
        click.echo(json.dumps(items, indent=1))
        return
    for item in items:
        target = f" (default target: {item['default_target']})" if item["default_target"] else ""
        click.echo(f"{item['type']:<20} [{item['chapter']}] {item['description']}{target}")
        for name, prop in item["params"].items():
            default = f" = {prop['default']}" if "default" in prop else ""
            click.echo(f"{'':<22}--param {name}=<{prop.get('type', 'value')}>{default}")


@click.command()
@click.argument("fault_type", metavar="TYPE")
@click.option("--target", "-t", default=None, help="Node, node/service or mailroot (see `faults`).")
@click.option("--param", "-p", "params", multiple=True, help="A fault setting, key=value.")
@click.option(
    "--for", "seconds", default=None, callback=_duration, help="Keep it this long, then revert."
)
@click.pass_context
def inject(
    ctx: click.Context,
    fault_type: str,
    target: str | None,
    params: tuple[str, ...],
    seconds: float | None,
) -> None:
    """Inject a fault; prints its id. With --for it waits, then reverts (also on Ctrl-C/SIGTERM)."""
    from testbed.faults import injector

    home = _home(ctx)
    if seconds is None:
        fault_id = injector.inject(home, fault_type, target, _params(params), check_effect=False)
        click.echo(fault_id)
        _report_effect(injector.check(home, fault_id))
        return

    def shown(fault_id: str, effect: Effect) -> None:
        click.echo(fault_id)
        _report_effect(effect)

    fault_id, interrupted = injector.hold(
        home, fault_type, target, _params(params), seconds, on_inject=shown
    )
    click.echo(f"reverted {fault_id}{' (interrupted)' if interrupted else ''}", err=True)
    if interrupted:
        raise SystemExit(130)


def _report_effect(effect: Effect) -> None:
    mark = "effect" if effect.ok else "WARNING: effect not seen"
    click.echo(f"{mark}: {effect.detail}", err=True)


@click.command()
@click.argument("fault_id", metavar="ID", required=False)
@click.option("--all", "everything", is_flag=True, help="Revert every active fault.")
@click.pass_context
def revert(ctx: click.Context, fault_id: str | None, everything: bool) -> None:
    """Revert one fault by id, or all of them."""
    from testbed.faults import injector

    home = _home(ctx)
    if everything == (fault_id is not None):
        raise click.UsageError("give a fault id or --all (not both)")
    if everything:
        done = injector.revert_all(home)
        click.echo("\n".join(f"reverted {i}" for i in done) or "no active faults")
        return
    assert fault_id is not None
    if not injector.revert(home, fault_id):
        active = ", ".join(e.id for e in injector.active(home)) or "none"
        raise MaildrillError(f"no active fault {fault_id!r} (active: {active})")
    click.echo(f"reverted {fault_id}")


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Find anything a fault left behind (ledger, stopped processes, storage, dead services) and undo it."""
    from testbed.faults.injector import doctor as repair

    repaired = repair(_home(ctx))
    click.echo("\n".join(repaired) if repaired else "nothing to repair")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def active(ctx: click.Context, as_json: bool) -> None:
    """The faults that are on now (from the revert ledger)."""
    from testbed.faults.injector import active as entries

    found = entries(_home(ctx))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": e.id,
                        "type": e.type,
                        "target": e.target,
                        "params": e.params,
                        "phase": e.phase,
                    }
                    for e in found
                ]
            )
        )
        return
    for e in found:
        click.echo(f"{e.id:<32} {e.type:<20} {e.target}")
    if not found:
        click.echo("no active faults")


def register(cli: click.Group) -> None:
    for command in (faults_cmd, inject, revert, doctor, active):
        cli.add_command(command)


def repair(home: Home, teardown: bool) -> None:
    """The doctor's repair as `up` and `down` run it: report, never block them."""
    from testbed.faults.injector import doctor as run_doctor

    try:
        for line in run_doctor(home, teardown=teardown):
            click.echo(f"repaired: {line}", err=True)
    except MaildrillError as exc:
        click.echo(f"maildrill: warning: {exc}", err=True)
    except Exception as exc:  # noqa: BLE001 - a broken fault module must never block up/down
        click.echo(f"maildrill: warning: repair failed: {exc!r}", err=True)
