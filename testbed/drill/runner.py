"""One drill: steady state → faults on schedule → response → observe → revert → integrity → score.

Injection and judging stay apart: this runner only acts and records (journal, mail ledger); the
scorer reads those files afterwards and decides. Every fault goes through the injector (ledger
before inject), and a `finally` reverts whatever is on — on success, abort, Ctrl-C or an error.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.drill.layout import layout_problems
from testbed.drill.scenario import Scenario
from testbed.errors import MaildrillError
from testbed.faults import injector, journal
from testbed.faults.schedule import Timeline, occurrences
from testbed.home import Home
from testbed.scorer.plan import Thresholds

Say = Callable[[str], None]
STEADY_WAIT_S = 60.0
DRAIN_WAIT_S = 60.0
AUTOMATION_GRACE_S = 30.0  # after a failed automation, how long the drill still waits


@dataclass
class DrillOptions:
    auto: bool = False
    observe_grace: float = 5.0  # keep observing this long after the last milestone
    say: Say = print
    thresholds: Thresholds | None = None  # the plan's alarm thresholds (None: the spec's)


@dataclass
class DrillRun:
    home: Home
    scenario: Scenario
    scenario_path: Path
    options: DrillOptions
    stop: threading.Event = field(default_factory=threading.Event)
    timelines: list[Timeline] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)  # workers that died, and why
    started: float = 0.0
    response: subprocess.Popen[str] | None = None
    abort_reason: str = ""
    injected_at: list[float] = field(default_factory=list)

    # --- phases ----------------------------------------------------------------------------
    def run(self) -> None:
        self._fresh_records()
        self.started = time.monotonic()
        journal.append(
            self.home,
            "drill_start",
            scenario=self.scenario.name,
            chapter=self.scenario.chapter,
            users_by_class=self._users_by_class(),
            interval=self.scenario.probes.interval,
            auto=self.options.auto,
            limits=self.scenario.limits.model_dump(),
        )
        try:
            self._background()
            self._steady_state()
            self._schedule_faults()
            self._respond_and_observe()
        except KeyboardInterrupt:
            self.abort_reason = "interrupted (Ctrl-C)"
            raise
        finally:
            self._wind_down()

    def _fresh_records(self) -> None:
        """A drill's journal and ledger hold that drill only; earlier ones are kept beside them."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for name in ("journal.jsonl", "ledger.jsonl"):
            path = self.home.root / name
            if path.exists():
                path.rename(path.with_name(f"{path.stem}.{stamp}{path.suffix}"))

    def _users_by_class(self) -> dict[str, int]:
        from testbed.runtime.provision import read_users

        counts: dict[str, int] = {}
        for user in read_users(self.home):
            counts[user["cls"]] = counts.get(user["cls"], 0) + 1
        return counts

    def _background(self) -> None:
        from testbed.probes.monitor import Monitor

        monitor = Monitor(
            self.home,
            self.scenario.probes.interval,
            list(self.scenario.probes.services),
            journal=True,
            thresholds=self.options.thresholds,
        )
        self._thread("monitor", lambda: monitor.run(self.stop))
        if self.scenario.load.rate > 0:
            from testbed.traffic import Traffic

            traffic = Traffic(
                self.home,
                self.scenario.load.rate,
                {str(k): v for k, v in self.scenario.load.mix.items()},
                self.scenario.users.seed,
            )
            self._thread("traffic", lambda: traffic.run(self.stop))

    def _thread(self, name: str, body: Callable[[], object]) -> None:
        def guarded() -> None:
            try:
                body()
            except Exception as exc:  # noqa: BLE001 - reported by the observe loop, which ends the drill
                self.crashed.append(f"{name}: {exc!r}")

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _steady_state(self) -> None:
        # a drill judges "resolved" by the layout returning to normal: it must be normal first
        problems = layout_problems(self.home)
        if problems:
            raise MaildrillError(
                "the testbed's layout is not normal before the drill ("
                + "; ".join(problems[:3])
                + "): put it back, or `maildrill down` and let the drill bring up a fresh one"
            )
        self.options.say("steady state: waiting for every probe to pass")
        deadline = time.monotonic() + STEADY_WAIT_S
        while time.monotonic() < deadline:
            if self._all_ok(since=self.started, k=2):
                self.options.say(f"steady state reached after {self._elapsed():.1f} s")
                journal.append(self.home, "phase", name="steady")
                return
            time.sleep(0.5)
        raise MaildrillError(
            "no steady state: probes did not all pass before the faults "
            "(is the testbed healthy? `maildrill check`)"
        )

    def _all_ok(self, since: float, k: int) -> bool:
        """The last k probes of every service and class succeeded (after `since`)."""
        last: dict[tuple[str, str], list[bool]] = {}
        for rec in journal.read(self.home):
            if rec.get("event") == "probe" and rec.get("mono", 0) >= since:
                last.setdefault((rec["service"], rec["cls"]), []).append(bool(rec["ok"]))
        wanted = {
            (s, c) for s in self.scenario.probes.services for c in ("vip", "paying", "regular")
        }
        return wanted <= set(last) and all(len(v) >= k and all(v[-k:]) for v in last.values())

    def _schedule_faults(self) -> None:
        t0 = time.monotonic()
        for spec in self.scenario.faults:
            occ = occurrences(spec.schedule)

            def inject(k: int, spec: Any = spec, occ: list[Any] = occ) -> str:
                fid = injector.inject(self.home, spec.type, spec.target, spec.params)
                self.injected_at.append(time.monotonic())
                self.options.say(
                    f"{self._elapsed():7.1f} s  injected {spec.type} "
                    f"on {spec.target or 'default'} ({fid})"
                )
                return fid

            timeline = Timeline(inject, lambda fid: injector.revert(self.home, fid), len(occ))
            self.timelines.append(timeline)
            for k, o in enumerate(occ):
                self._timer(t0 + o.start, functools.partial(timeline.start, k))
                if o.end is not None:
                    self._timer(t0 + o.end, functools.partial(timeline.end, k))

    def _timer(self, when: float, action: Callable[[], object]) -> None:
        def wait_then_act() -> None:
            if not self.stop.wait(max(0.0, when - time.monotonic())):
                try:
                    action()
                except MaildrillError as exc:
                    journal.append(self.home, "error", stage="schedule", detail=str(exc))
                    self.options.say(f"fault schedule: {exc}")

        self._thread("fault-timer", wait_then_act)

    def _respond_and_observe(self) -> None:
        first = min(o.start for s in self.scenario.faults for o in occurrences(s.schedule))
        response = self.scenario.response
        limit = self.scenario.abort.after
        self.options.say(f"faults scheduled; observing (abort after {limit:.0f} s)")
        if self.options.auto and response.automation:
            self._wait(first)
            while not self.injected_at and self._elapsed() < limit and self._injections_pending():
                time.sleep(0.2)  # the automation reacts to a fault that is in place
            self._start_response(response.automation)
        elif response.people:
            self.options.say(
                "response: people — work on the nodes with `maildrill shell NODE`; "
                "the drill ends when service is restored and the layout is normal"
            )
        last_report = last_check = 0.0
        failed_at: float | None = None
        while True:
            elapsed = self._elapsed()
            if elapsed > limit:
                self.abort_reason = f"abort.after ({limit:.0f} s) reached"
                break
            if self.crashed:  # without its monitor (or load) the drill would measure nothing
                self.abort_reason = f"drill worker failed: {self.crashed[0]}"
                self.options.say(f"{elapsed:7.1f} s  {self.abort_reason}")
                break
            if self.response is not None and self.response.poll() is not None:
                code = self.response.returncode
                self.options.say(f"{elapsed:7.1f} s  response finished (exit {code})")
                journal.append(self.home, "response_end", exit=code)
                self.response = None
                if code != 0:
                    failed_at = elapsed
            if failed_at is not None and elapsed - failed_at > AUTOMATION_GRACE_S:
                self.abort_reason = "the automation failed and service was not restored"
                break
            due = elapsed > first + 1.0 and elapsed - last_check >= 2.0
            if due and self.response is None and not self._injections_pending():
                last_check = elapsed
                if self._resolved():
                    self.options.say(f"{elapsed:7.1f} s  service restored and layout normal")
                    break
            if elapsed - last_report >= 5.0:
                last_report = elapsed
                self.options.say(self._status_line(elapsed))
            time.sleep(0.5)

    def _wait(self, until: float) -> None:
        self.stop.wait(max(0.0, until - self._elapsed()))

    def _start_response(self, command: str) -> None:
        cwd = self.scenario_path.parent.resolve()
        env = {**os.environ, "MAILDRILL_HOME": str(self.home.root)}
        script = cwd / command
        argv = ["bash", str(script)] if script.exists() else ["sh", "-c", command]
        self.options.say(f"{self._elapsed():7.1f} s  response: {command}")
        journal.append(self.home, "command", who="automation", node="", argv=argv)
        self.response = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._thread("response-output", self._follow_response)

    def _follow_response(self) -> None:
        proc = self.response
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("STEP: "):
                journal.append(self.home, "runbook_step", name=line[6:], detail="")
                self.options.say(f"{self._elapsed():7.1f} s  step: {line[6:]}")
            elif line.strip():
                self.options.say(f"           | {line}")

    def _injections_pending(self) -> bool:
        """Some scheduled occurrence has not started, or its inject is still running."""
        return any(
            state == "pending" or (state == "active" and k not in tl.handles)
            for tl in self.timelines
            for k, state in tl.states.items()
        )

    def _resolved(self) -> bool:
        """Service back (k probes in a row after the last injection) and the layout normal."""
        since = max(self.injected_at, default=self.started) + 0.5
        if not self._all_ok(since=since, k=3):
            return False
        problems = layout_problems(self.home)
        journal.append(self.home, "layout", normal=not problems, detail="; ".join(problems[:5]))
        return not problems

    def _status_line(self, elapsed: float) -> str:
        alarms = {}
        for rec in journal.read(self.home):
            if rec.get("event") == "alarm":
                alarms[rec.get("name")] = rec.get("state")
        raised = sorted(str(n) for n, s in alarms.items() if s == "raised")
        return f"{elapsed:7.1f} s  alarms: {', '.join(raised) or 'none'}"

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _wind_down(self) -> None:
        """Revert everything, stop the response and the background, then check the mail."""
        if self.response is not None and self.response.poll() is None:
            self.response.terminate()
            try:
                self.response.wait(10)
            except subprocess.TimeoutExpired:
                self.response.kill()
        self.stop.set()  # no new injection starts; one in progress finishes first
        for thread in self.threads:
            if thread.name == "fault-timer":
                thread.join(60)
        for timeline in self.timelines:
            try:
                timeline.abort()
            except (MaildrillError, KeyError) as exc:
                self.options.say(f"revert: {exc!r}")
        for entry in injector.active(self.home):
            injector.revert(self.home, entry.id)
        for thread in self.threads:
            thread.join(15)
        journal.append(
            self.home, "layout", normal=not layout_problems(self.home), detail="after revert"
        )
        self._integrity()
        journal.append(
            self.home, "drill_end", aborted=bool(self.abort_reason), reason=self.abort_reason
        )

    def _integrity(self) -> None:
        if self.scenario.load.rate <= 0:
            return
        from testbed.traffic import reconcile

        self.options.say("integrity: waiting for queued mail, then checking every message")
        deadline = time.monotonic() + DRAIN_WAIT_S
        while time.monotonic() < deadline and _queued(self.home):
            time.sleep(1.0)
        counts = reconcile(self.home)
        self.options.say(f"mail: {counts}")


def _queued(home: Home) -> int:
    return sum(
        1
        for fe in home.topology.frontends
        for p in (home.node_root(fe.name) / "var/spool/mta/queue").glob("*")
        if not p.name.endswith(".state")
    )


def ensure_testbed(
    home: Home, scenario: Scenario, scenario_path: Path, backend: str | None, say: Say
) -> bool:
    """Bring a testbed up for the scenario unless one runs; True when we started it."""
    from testbed.runtime.registry import backend_for, remember

    runner = backend_for(home, backend)
    if runner.is_up():
        say(f"using the running testbed in {home.root}")
        return False
    topology = (scenario_path.parent / scenario.topology) if scenario.topology else None
    say(f"bringing the testbed up ({scenario.users.count} users)")
    remember(home, runner)
    runner.up(topology, scenario.users.count, scenario.users.seed)
    return True


def copy_journal(home: Home, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("journal.jsonl", "ledger.jsonl"):
        if (home.root / name).exists():
            shutil.copy(home.root / name, out / name)


def main_exit_code(passed: bool) -> int:
    return 0 if passed else 1


if __name__ == "__main__":  # pragma: no cover - use `maildrill drill`
    sys.exit("use: maildrill drill SCENARIO")
