"""Link faults in the kernel for the docker backend: iptables rules in the source node's network
namespace (entered from the host with nsenter, so the containers need no extra capability), each
tagged with the fault rule's id in an iptables comment so that revert removes exactly it and
doctor finds any left behind. This machine's kernel has no netem, so only what iptables alone
does is here: partition (DROP: connections time out) and reset (REJECT with a TCP reset); the
other link faults, and rules with a probability, stay with the processes' own gates."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from typing import Any

from testbed.errors import MaildrillError

TAG = "maildrill:"
ACTIONS = {
    "partition": ["-j", "DROP"],
    "reset": ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
}


def supported(rule: dict[str, Any], nodes: set[str]) -> bool:
    return (
        rule.get("kind") in ACTIONS
        and float(rule.get("probability", 1.0)) >= 1.0
        and rule.get("src") in nodes
        and rule.get("dst") in nodes
    )


class KernelLinks:
    """`netns(node)` gives the command prefix that runs iptables in that node's namespace."""

    def __init__(self, netns: Callable[[str], list[str]], address: Callable[[str], str]) -> None:
        self.netns, self.address = netns, address

    def _iptables(self, node: str, args: list[str], check: bool = True) -> str:
        cmd = [*self.netns(node), "iptables", "-w", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
        if check and done.returncode != 0:
            raise MaildrillError(f"iptables on {node}: {done.stderr.strip() or done.returncode}")
        return done.stdout

    def apply(self, rule: dict[str, Any], on: bool) -> None:
        pairs = [(rule["src"], rule["dst"])]
        if rule.get("both"):
            pairs.append((rule["dst"], rule["src"]))
        for src, dst in pairs:
            spec = ["OUTPUT", "-d", self.address(dst), "-m", "comment", "--comment"]
            spec += [TAG + str(rule["id"]), *ACTIONS[str(rule["kind"])]]
            if on:
                self._iptables(src, ["-A", *spec])
            else:  # every copy (an inject retried after a crash may have added it twice)
                for _ in range(10):
                    if not self._present(src, str(rule["id"])):
                        break
                    self._iptables(src, ["-D", *spec], check=False)

    def _rules(self, node: str) -> list[str]:
        try:
            out = self._iptables(node, ["-S", "OUTPUT"])
        except MaildrillError:
            return []  # no such container (any more): no rules in it
        return [line for line in out.splitlines() if TAG in line]

    def _present(self, node: str, rule_id: str) -> bool:
        return any(TAG + rule_id in line for line in self._rules(node))

    def ids(self, nodes: list[str]) -> set[str]:
        found = set()
        for node in nodes:
            for line in self._rules(node):
                found.add(line.split(TAG, 1)[1].split()[0].strip('"'))
        return found

    def clear(self, nodes: list[str]) -> list[str]:
        out = []
        for node in nodes:
            for line in self._rules(node):
                args = shlex.split(line)
                self._iptables(node, ["-D", *args[1:]], check=False)
                out.append(f"removed iptables rule on {node}: {line}")
        return out
