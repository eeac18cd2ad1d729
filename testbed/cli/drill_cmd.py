"""`maildrill drill`, `monitor`, `traffic` and `ledger`: drills and what they are judged by."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from testbed.faults.base import parse_duration


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def register(cli: click.Group, pass_ctx: Any) -> None:
    @cli.command()
    @click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--auto", is_flag=True, help="Run the scenario's automation (its runbook).")
    @click.option(
        "--report",
        "report_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Write JSON, HTML, JUnit and Prometheus reports here (one folder each).",
    )
    @click.option(
        "--junit",
        type=click.Path(path_type=Path),
        default=None,
        help="Also write one JUnit XML file covering every scenario.",
    )
    @click.option(
        "--plan",
        "plan_file",
        type=click.Path(path_type=Path),
        default=None,
        help="The plan file (default scenarios/plan.yaml).",
    )
    @click.option("--backend", default=None, help="Backend for a testbed the drill brings up.")
    @pass_ctx
    def drill(
        obj: Any,
        scenarios: tuple[Path, ...],
        auto: bool,
        report_dir: Path | None,
        junit: Path | None,
        plan_file: Path | None,
        backend: str | None,
    ) -> None:
        """Run drills: steady state → faults → response → observe → revert → score."""
        from testbed.drill.runner import DrillOptions, DrillRun, ensure_testbed
        from testbed.drill.scenario import load_scenario
        from testbed.runtime.registry import backend_for
        from testbed.scorer import load_plan, score_home, write_reports
        from testbed.scorer.reports import write_junit

        plan = load_plan(plan_file)
        loaded = [(path, load_scenario(path)) for path in scenarios]  # all valid before any runs
        results = []
        for path, scenario in loaded:
            click.echo(f"== drill {scenario.name} ({scenario.chapter}) ==")
            started = ensure_testbed(obj.home, scenario, path, backend, click.echo)
            run = DrillRun(
                obj.home,
                scenario,
                path,
                DrillOptions(auto=auto, say=click.echo, thresholds=plan.thresholds),
            )
            try:
                run.run()
            finally:
                result = score_home(obj.home, plan)
                results.append(result)
                _print_score(result)
                if report_dir is not None:
                    paths = write_reports(result, _journal(obj.home), report_dir / scenario.name)
                    click.echo(f"report: {paths['html']}")
                if junit is not None:
                    write_junit(
                        result,
                        junit
                        if len(loaded) == 1
                        else junit.with_name(f"{junit.stem}-{scenario.name}{junit.suffix}"),
                    )
                if started:
                    backend_for(obj.home).down()
        sys.exit(0 if all(r.passed for r in results) else 1)

    @cli.command()
    @click.option("--interval", default="1s", show_default=True)
    @click.option("--for", "duration", default=None, help="Stop after this long (e.g. 60s).")
    @click.option(
        "--metrics-port",
        type=int,
        default=9464,
        show_default=True,
        help="Prometheus /metrics on 127.0.0.1 (0: off).",
    )
    @pass_ctx
    def monitor(obj: Any, interval: str, duration: str | None, metrics_port: int) -> None:
        """Synthetic transactions per service and class through the VIP, alarms, metrics."""
        from testbed.probes.monitor import Monitor, serve_metrics

        mon = Monitor(obj.home, _seconds(interval) or 1.0)
        server = serve_metrics(mon, metrics_port) if metrics_port else None
        stop = threading.Event()
        end = None if duration is None else time.monotonic() + (_seconds(duration) or 0)

        def show(m: Monitor) -> None:
            fails = sorted({f"{s}/{c}" for (s, c), (ok, _l) in m.last.items() if not ok})
            raised = sorted(n for n, r in m.alarms.items() if r)
            click.echo(
                f"{time.strftime('%H:%M:%S')} failing: {', '.join(fails) or 'none'}; "
                f"alarms: {', '.join(raised) or 'none'}; queued {m.queue}"
            )
            if end is not None and time.monotonic() >= end:
                stop.set()

        try:
            mon.run(stop, on_round=show)
        except KeyboardInterrupt:
            pass
        finally:
            if server is not None:
                server.shutdown()

    @cli.command()
    @click.option("--rate", default=2.0, show_default=True, help="Messages per second.")
    @click.option("--for", "duration", default="60s", show_default=True)
    @click.option("--seed", default=1, show_default=True)
    @pass_ctx
    def traffic(obj: Any, rate: float, duration: str, seed: int) -> None:
        """Background mail between users and from the Internet, recorded in the mail ledger."""
        from testbed.traffic import Traffic

        load = Traffic(obj.home, rate, {"vip": 0.05, "paying": 0.25, "regular": 0.70}, seed)
        with contextlib.suppress(KeyboardInterrupt):
            load.run(threading.Event(), seconds=_seconds(duration))
        click.echo(f"sent {load.sent} messages (see `maildrill ledger`)")

    @cli.command()
    @click.option("--json", "as_json", is_flag=True)
    @pass_ctx
    def ledger(obj: Any, as_json: bool) -> None:
        """Check every background message: delivered, bounced, lost, duplicated."""
        from testbed.traffic import reconcile

        counts = reconcile(obj.home)
        click.echo(
            json.dumps(counts)
            if as_json
            else ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )


def _journal(home: Any) -> list[dict[str, Any]]:
    from testbed.faults import journal

    return journal.read(home)


def _print_score(result: Any) -> None:
    click.echo(
        f"-- {result.scenario}: score {result.score}/100, "
        f"{'PASSED' if result.passed else 'FAILED'}, grade {result.grade}"
    )
    for m in result.milestones:
        actual = "—" if m.actual is None else f"{m.actual:.1f} s"
        limit = "—" if m.limit is None else f"{m.limit:.0f} s"
        click.echo(f"   {m.name:<20} {actual:>10}  limit {limit:>7}  {m.verdict}")
    click.echo(f"   mail: {result.mail}; key users first: {result.key_users_first}")
    for note in result.notes:
        click.echo(f"   note: {note}")
