"""webroot_defaced: the web root of a webserver (or both main ones: `primary`) is defaced or
deleted — the webserver chapter's "webroot attacked". Users get the attacker's page (deface) or
errors (delete). The plan's repair is `tar xvf webroot.<date>.tar` in /opt/aimc and a restart;
revert restores the exact original either way."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from typing import Literal

from testbed.faults.base import Effect, Fault, FaultContext, Plan, Strict
from testbed.faults.filebackup import drop, new_key, restore_tree, save_tree
from testbed.faults.lb_unit_down import role_nodes
from testbed.faults.registry import register
from testbed.topology.model import Topology

DEFACED = "<html><body><h1>HACKED BY MAILDRILL</h1><p>your mail is ours</p></body></html>\n"
MARK = "HACKED BY MAILDRILL"


class Params(Strict):
    mode: Literal["deface", "delete"] = "deface"


def _webroot(ctx: FaultContext, node: str):  # type: ignore[no-untyped-def]
    return ctx.home.node_root(node) / "opt" / "aimc" / "webroot"


@register
class WebrootDefaced(Fault):
    name = "webroot_defaced"
    chapter = "webserver"
    Params = Params
    default_target = "primary"
    description = "deface (or delete) a webserver's web root (`primary`: both main webservers)"

    def targets(self, topology: Topology) -> list[str]:
        return ["primary", *topology.spec.web.nodes, topology.spec.web.backup]

    def plan(self, ctx: FaultContext) -> Plan:
        nodes = role_nodes(ctx.target, ctx.topology.spec.web.nodes)
        keys = {}
        for node in nodes:
            keys[node] = new_key(f"webroot-{node}")
            save_tree(ctx.home, keys[node], _webroot(ctx, node))
        return {"nodes": nodes, "keys": keys, "mode": ctx.params.mode}  # type: ignore[attr-defined]

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        for node in plan["nodes"]:
            root = _webroot(ctx, node)
            if plan["mode"] == "delete":
                shutil.rmtree(root, ignore_errors=True)
                continue
            for page in list(root.glob("*.html")):
                page.write_text(DEFACED)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        node = plan["nodes"][0]
        url = f"http://{ctx.topology.nodes[node].address}:{ctx.topology.spec.ports.http}/"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                body = answer.read().decode(errors="replace")
                seen = f"{answer.status}, defaced" if MARK in body else f"{answer.status}"
                ok = MARK in body
        except urllib.error.HTTPError as exc:
            seen, ok = f"HTTP {exc.code}", plan["mode"] == "delete"
        except OSError as exc:
            seen, ok = f"unreachable ({exc})", False
        return Effect(ok, f"GET {url}: {seen}")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        for node in plan["nodes"]:
            restore_tree(ctx.home, plan["keys"][node], _webroot(ctx, node))

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        bad = [
            n
            for n in plan["nodes"]
            if not _webroot(ctx, n).exists()
            or any(MARK in p.read_text(errors="replace") for p in _webroot(ctx, n).glob("*.html"))
        ]
        if not bad:
            for node in plan["nodes"]:
                drop(ctx.home, plan["keys"][node])
        return Effect(not bad, f"webroot still damaged on {bad}" if bad else "webroots restored")
