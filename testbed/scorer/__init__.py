"""Judging drills: the plan file, the scorer (reads only the journal and the mail ledger), reports."""

from __future__ import annotations

from testbed.faults import journal
from testbed.home import Home
from testbed.scorer.plan import Plan, load_plan
from testbed.scorer.reports import write_reports
from testbed.scorer.score import Score, score
from testbed.traffic import ledger

__all__ = ["Plan", "Score", "load_plan", "score", "score_home", "write_reports"]


def score_home(home: Home, plan: Plan | None = None) -> Score:
    return score(
        journal.read(home), ledger.read(home), plan or load_plan(), len(home.topology.frontends)
    )
