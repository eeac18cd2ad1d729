"""The injector: every fault goes through here, so every fault is in the ledger before it acts,
in the journal when it acts, and reverted exactly once (revert under the ledger lock; the entry
disappears only once the revert is confirmed).

    inject(home, type, target, params, duration=None) -> id
    check(home, id) -> Effect          the symptom as a real client sees it (also journalled)
    revert(home, id) -> bool           False when it was already reverted
    revert_all(home) -> [id]
    doctor(home, teardown=False) -> [what was repaired]
    hold(home, type, target, params, seconds, on_inject)   inject, wait, revert (also on signals)
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

from testbed.errors import MaildrillError
from testbed.faults import journal, registry
from testbed.faults.base import Effect, Fault, FaultContext, FaultError
from testbed.faults.ledger import Entry, Ledger, new_id
from testbed.home import Home
from testbed.runtime.registry import backend_for

EFFECT_WAIT_S = 8.0  # a symptom may take a moment (a port freed, a state file re-read)
CONFIRM_WAIT_S = 30.0


def _require_testbed(home: Home) -> None:
    if not home.exists:
        raise MaildrillError(f"no testbed in {home.root} (run `maildrill up`)")


def _context(home: Home, fault: Fault, entry: Entry, teardown: bool = False) -> FaultContext:
    return FaultContext(
        home, backend_for(home), entry.target, fault.parse_params(entry.params), teardown
    )


def _poll(probe: Callable[[], Effect], seconds: float) -> Effect:
    end = time.monotonic() + seconds
    while True:
        try:
            effect = probe()
        except (OSError, MaildrillError) as exc:
            effect = Effect(False, f"check failed: {exc}")
        if effect.ok or time.monotonic() >= end:
            return effect
        time.sleep(0.2)


def inject(
    home: Home,
    fault_type: str,
    target: str | None = None,
    params: dict[str, Any] | None = None,
    duration: float | None = None,
    check_effect: bool = True,
) -> str:
    """Validate, record in the ledger, apply; returns the fault id. Refusals raise FaultError and
    leave nothing behind; a failure half-way is reverted before the error is raised."""
    fault = registry.get(fault_type)
    _require_testbed(home)
    topology = home.topology
    target = fault.check_target(topology, target)
    model = fault.parse_params(params or {})
    ledger = Ledger(home)
    with ledger.lock():
        ctx = FaultContext(home, backend_for(home), target, model)
        plan = fault.plan(ctx)
        entry = Entry(
            id=new_id(fault.name),
            type=fault.name,
            target=target,
            params=model.model_dump(mode="json"),
            plan=plan,
            duration=duration,
        )
        ledger.write(entry)  # on disk before anything changes
        try:
            fault.inject(ctx, plan)
        except BaseException as exc:
            journal.append(home, "error", **_ids(entry), stage="inject", message=repr(exc))
            with _signals_blocked():
                _revert_locked(home, ledger, entry)
            if not isinstance(exc, Exception):
                raise  # an interruption (Ctrl-C, SIGTERM) stays one, after the revert
            raise FaultError(f"{fault.name} on {target} failed and was reverted: {exc}") from exc
        entry.phase = "active"
        ledger.write(entry)
        journal.append(
            home,
            "inject",
            **_ids(entry),
            chapter=fault.chapter,
            params=entry.params,
            duration=duration,
            owner=entry.owner,
        )
    if check_effect:
        check(home, entry.id)
    return entry.id


def _ids(entry: Entry) -> dict[str, Any]:
    return {"id": entry.id, "type": entry.type, "target": entry.target}


def check(home: Home, fault_id: str, wait: float = EFFECT_WAIT_S) -> Effect:
    """Run the fault's effect check (polling up to `wait` s for the symptom) and journal it."""
    entry = Ledger(home).get(fault_id)
    if entry is None:
        raise FaultError(f"no active fault {fault_id!r}")
    fault = registry.get(entry.type)
    ctx = _context(home, fault, entry)
    effect = _poll(lambda: fault.check(ctx, entry.plan), wait)
    journal.append(home, "effect_check", **_ids(entry), ok=effect.ok, detail=effect.detail)
    return effect


def revert(home: Home, fault_id: str) -> bool:
    """Undo one fault. False if it is not in the ledger (already reverted, by us or by doctor)."""
    ledger = Ledger(home)
    with ledger.lock(), _signals_blocked():
        entry = ledger.get(fault_id)
        if entry is None:
            return False
        _revert_locked(home, ledger, entry)
        return True


def _revert_locked(home: Home, ledger: Ledger, entry: Entry, teardown: bool = False) -> None:
    fault = registry.get(entry.type)
    entry.phase = "reverting"
    ledger.write(entry)
    ctx = _context(home, fault, entry, teardown)
    try:
        fault.revert(ctx, entry.plan)
        confirmed = (
            Effect(True, "teardown: nothing restarted")
            if teardown
            else _poll(lambda: fault.confirm(ctx, entry.plan), CONFIRM_WAIT_S)
        )
    except Exception as exc:
        journal.append(home, "error", **_ids(entry), stage="revert", message=str(exc))
        if not teardown:
            raise FaultError(f"revert of {entry.id} failed (kept in the ledger): {exc}") from exc
        confirmed = Effect(True, f"teardown: {exc}")
    if not confirmed.ok:
        journal.append(home, "error", **_ids(entry), stage="confirm", message=confirmed.detail)
        raise FaultError(f"revert of {entry.id} not confirmed (kept in the ledger): {confirmed}")
    journal.append(home, "revert", **_ids(entry), teardown=teardown, detail=confirmed.detail)
    ledger.remove(entry.id)


def revert_all(home: Home) -> list[str]:
    done = []
    ledger = Ledger(home)
    with ledger.lock():
        for entry in ledger.entries():
            if revert(home, entry.id):
                done.append(entry.id)
    return done


def active(home: Home) -> list[Entry]:
    return Ledger(home).entries()


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """A revert is never cut short by Ctrl-C or SIGTERM; they are handled right after it."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Interrupted(BaseException):
    """SIGTERM/SIGINT while holding a fault: unwinds to the revert."""


def hold(
    home: Home,
    fault_type: str,
    target: str | None,
    params: dict[str, Any] | None,
    seconds: float,
    on_inject: Callable[[str, Effect], None] = lambda _id, _effect: None,
) -> tuple[str, bool]:
    """Inject, check its effect (passed to on_inject), keep the fault for `seconds`, revert.
    SIGINT/SIGTERM revert before returning. Returns (id, interrupted)."""

    interrupted = False

    def raise_interrupted(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    def note(_signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True  # already on the way out: the revert below runs to its end

    sigs = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, raise_interrupted) for s in sigs}
    fault_id: str | None = None
    try:
        fault_id = inject(home, fault_type, target, params, seconds, check_effect=False)
        on_inject(fault_id, check(home, fault_id))
        time.sleep(seconds)
    except Interrupted:
        interrupted = True
    finally:
        with _signals_blocked():
            for sig in sigs:
                signal.signal(sig, note)
        try:
            if fault_id is not None:
                revert(home, fault_id)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return fault_id or "", interrupted


from testbed.faults.doctor import doctor  # noqa: E402 - re-exported: the injector's API

__all__ = ["active", "check", "doctor", "hold", "inject", "revert", "revert_all"]
