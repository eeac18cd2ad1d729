"""Fault points inside components: where protocol faults act (generic chaos tools cannot do this).

A protocol fault (testbed/faults/mta_reject.py, uas_reject.py, ...) writes a rule into
<home>/faults/protocol/<component>.json; the component asks `FAULTPOINTS.fire(component, stage)` at
that stage and, when a rule fires, answers as the rule says (an SMTP reply code, a rejected password,
a slow or failing MAPI answer). The file is re-read only when its mtime changes (one stat per check).

    {"rules": [{"id": "f-1", "stage": "rcpt", "nodes": ["fe01"], "probability": 0.5,
                "code": 451, "message": "4.3.0 try again later", "delay": 0.0, "error": ""}]}
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

Rule = dict[str, Any]


def rules_file(home_root: Path, component: str) -> Path:
    return home_root / "faults" / "protocol" / f"{component}.json"


def read_rules(home_root: Path, component: str) -> list[Rule]:
    try:
        return list(json.loads(rules_file(home_root, component).read_text())["rules"])
    except (FileNotFoundError, ValueError, KeyError):
        return []


def write_rules(home_root: Path, component: str, rules: list[Rule]) -> None:
    path = rules_file(home_root, component)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{component}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"rules": rules}, indent=1))
    os.replace(tmp, path)


class FaultPoints:
    def __init__(self) -> None:
        self.home_root: Path | None = None
        self.node = ""
        self.cache: dict[str, tuple[int, list[Rule]]] = {}
        self.rng = random.Random()

    def configure(self, home_root: Path, node: str) -> None:
        self.home_root, self.node = home_root, node

    def _rules(self, component: str) -> list[Rule]:
        if self.home_root is None:
            return []
        path = rules_file(self.home_root, component)
        try:
            mtime = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return []
        cached = self.cache.get(component)
        if cached is None or cached[0] != mtime:
            cached = (mtime, read_rules(self.home_root, component))
            self.cache[component] = cached
        return cached[1]

    def fire(self, component: str, stage: str) -> Rule | None:
        """The rule that acts on this request at `stage`, if any (drawn with its probability)."""
        for rule in self._rules(component):
            nodes = rule.get("nodes") or ["*"]
            here = rule.get("stage") in (stage, "*") and ("*" in nodes or self.node in nodes)
            if here and self.rng.random() < float(rule.get("probability", 1.0)):
                return rule
        return None


FAULTPOINTS = FaultPoints()
