"""The platform's mail log: one line per delivery attempt, in the format the plan's runbooks grep.

    2005/06/01 16:24:17 25729-429D69CB.000CFFE5 Mail.LR - (Fw: subject/1092)RETRY.0 Operation timed out from=<a@x> to=<b@y>

Direction: RL remote→local, LR local→remote, LL local→local. Outcome: OK, RETRY.<n> <reason>,
FAIL <reason>. from=/to= are maildrill's addition so a drill can follow one user's mail.
"""

from __future__ import annotations

import time
from pathlib import Path

from testbed import clock


class MailLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # line-buffered append: every line is on disk before the next attempt, even if we die
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the MTA

    def write(
        self,
        qid: str,
        direction: str,
        subject: str,
        size: int,
        outcome: str,
        sender: str,
        rcpt: str,
    ) -> None:
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", clock.localtime())  # the node's clock
        subject = " ".join(subject.split())[:60]
        self._file.write(
            f"{stamp} {qid} Mail.{direction} - ({subject}/{size}){outcome} "
            f"from=<{sender}> to=<{rcpt}>\n"
        )

    def close(self) -> None:
        self._file.close()
