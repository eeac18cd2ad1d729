"""Drill reports: JSON (journal + score), a self-contained HTML page for management (timeline
against the limits as inline SVG, per-class restore times, commands, a postmortem skeleton), JUnit
XML for CI (one testcase per milestone) and a Prometheus text file."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from xml.etree import ElementTree as ET

from testbed.scorer.score import Milestone, Record, Score

POSTMORTEM = (
    "Summary",
    "Impact",
    "Root cause",
    "Trigger",
    "Resolution",
    "Detection",
    "Action items",
    "Lessons",
    "Timeline",
)


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def write_json(score: Score, journal: list[Record], path: Path) -> None:
    path.write_text(
        json.dumps({"score": score.as_dict(), "journal": journal}, indent=1, default=str)
    )


def write_junit(score: Score, path: Path) -> None:
    suite = ET.Element(
        "testsuite",
        name=f"drill {score.scenario}",
        tests=str(len(score.milestones)),
        failures=str(sum(m.verdict == "fail" for m in score.milestones)),
        skipped=str(sum(m.verdict == "unknown" for m in score.milestones)),
    )
    for m in score.milestones:
        name = f"{m.name} (limit {_fmt(m.limit)}, actual {_fmt(m.actual)})"
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"maildrill.{score.chapter}",
            name=name,
            time=f"{m.actual or 0:.1f}",
        )
        message = f"{m.name}: actual {_fmt(m.actual)} against the plan's limit {_fmt(m.limit)}"
        if m.verdict == "fail":
            ET.SubElement(case, "failure", message=message).text = message
        elif m.verdict == "unknown":
            ET.SubElement(case, "skipped", message=f"{message}: the drill ended before it")
    mail = ET.SubElement(
        suite,
        "testcase",
        classname=f"maildrill.{score.chapter}",
        name=f"no mail lost (lost {score.mail['lost']}, duplicated {score.mail['duplicate']})",
    )
    if score.mail["lost"] or score.mail["duplicate"]:
        text = f"lost {score.mail['lost']}, duplicated {score.mail['duplicate']}"
        ET.SubElement(mail, "failure", message=text).text = text
    suite.set("tests", str(len(score.milestones) + 1))
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def write_prometheus(score: Score, path: Path) -> None:
    lines = [
        "# TYPE maildrill_drill_score gauge",
        f'maildrill_drill_score{{scenario="{score.scenario}"}} {score.score}',
        "# TYPE maildrill_drill_passed gauge",
        f'maildrill_drill_passed{{scenario="{score.scenario}"}} {int(score.passed)}',
        "# TYPE maildrill_milestone_seconds gauge",
    ]
    for m in score.milestones:
        if m.actual is not None:
            lines.append(
                f'maildrill_milestone_seconds{{scenario="{score.scenario}",'
                f'milestone="{m.name}"}} {m.actual:.3f}'
            )
    lines.append("# TYPE maildrill_mail_lost gauge")
    lines.append(f'maildrill_mail_lost{{scenario="{score.scenario}"}} {score.mail["lost"]}')
    path.write_text("\n".join(lines) + "\n")


def _svg(score: Score) -> str:
    """Each milestone as a bar from t0 to its actual time, with its limit as a red tick."""
    rows = [m for m in score.milestones if m.actual is not None or m.limit is not None]
    span = max([1.0, *(m.actual or 0 for m in rows), *(m.limit or 0 for m in rows)]) * 1.1
    width, left, row = 760, 150, 28
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + left}" '
        f'height="{row * len(rows) + 30}" role="img" aria-label="timeline against the limits">'
    ]
    for i, m in enumerate(rows):
        y = 10 + i * row
        out.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(m.name)}</text>')
        if m.actual is not None:
            w = max(2.0, m.actual / span * width)
            color = {"pass": "#3a3", "fail": "#c33"}.get(m.verdict, "#999")
            out.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="18" fill="{color}">'
                f"<title>{html.escape(_fmt(m.actual))}</title></rect>"
            )
        if m.limit is not None:
            x = left + m.limit / span * width
            out.append(
                f'<line x1="{x:.1f}" y1="{y - 3}" x2="{x:.1f}" y2="{y + 21}" '
                f'stroke="#a00" stroke-width="2"><title>limit {_fmt(m.limit)}</title></line>'
            )
    out.append(
        f'<text x="{left}" y="{row * len(rows) + 25}" font-size="11">0 s — '
        f"{html.escape(_fmt(span))} after the first fault</text></svg>"
    )
    return "".join(out)


def write_html(score: Score, journal: list[Record], path: Path) -> None:
    e = html.escape
    t0 = score.t0_wall or 0.0

    def row(m: Milestone) -> str:
        return (
            f"<tr><td>{e(m.name)}</td><td>{_fmt(m.limit)}</td><td>{_fmt(m.actual)}</td>"
            f'<td class="{e(m.verdict)}">{e(m.verdict)}</td></tr>'
        )

    timeline = [
        r
        for r in journal
        if r["event"]
        in ("inject", "revert", "alarm", "runbook_step", "command", "layout", "drill_end")
    ]
    events = "".join(
        f"<tr><td>{(r['wall'] - t0):+.1f} s</td><td>{e(r['event'])}</td>"
        f"<td>{e(str({k: v for k, v in r.items() if k not in ('event', 'mono', 'wall')})[:160])}"
        f"</td></tr>"
        for r in timeline
    )
    sections = "".join(
        f"<h3>{e(h)}</h3><p class=fill>…</p>"
        for h in POSTMORTEM
        if h not in ("Action items", "Timeline")
    )
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Drill report: {e(score.scenario)}</title><style>
body{{font-family:sans-serif;max-width:1000px;margin:2em auto}} td,th{{padding:2px 8px;text-align:left}}
.pass{{color:#282}} .fail{{color:#c22;font-weight:bold}} .unknown{{color:#888}} .fill{{color:#888}}
</style></head><body>
<h1>Drill report: {e(score.scenario)}</h1>
<p>Chapter <b>{e(score.chapter)}</b> · started {e(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0)))}
· score <b>{score.score}/100</b> · {"<span class=pass>PASSED</span>" if score.passed else "<span class=fail>FAILED</span>"}
· grade {e(score.grade)}</p>
<h2>Timeline against the plan's limits</h2>{_svg(score)}
<h2>Milestones</h2><table><tr><th>milestone</th><th>limit</th><th>actual</th><th>verdict</th></tr>
{"".join(row(m) for m in score.milestones)}</table>
<p>Affected services: {e(", ".join(score.affected) or "none")} · key users first:
{e(str(score.key_users_first))} · outage (user-minutes): {e(str(score.outage_user_minutes))}</p>
<p>Mail: {e(str(score.mail))}</p>
<h2>Commands run</h2><ul>{"".join(f"<li>{e(str(c.get('name') or ' '.join(c.get('argv', []))))}</li>" for c in score.commands) or "<li>none recorded</li>"}</ul>
<h2>Postmortem</h2>{sections}
<h3>Action items</h3><ol><li class=fill>…</li><li class=fill>…</li><li class=fill>…</li></ol>
<h3>Timeline</h3><table>{events}</table>
<p>Notes: {e("; ".join(score.notes) or "none")}</p></body></html>
"""
    path.write_text(page)


def write_reports(score: Score, journal: list[Record], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "drill.json",
        "html": out / "report.html",
        "junit": out / "junit.xml",
        "prometheus": out / "drill.prom",
    }
    write_json(score, journal, paths["json"])
    write_html(score, journal, paths["html"])
    write_junit(score, paths["junit"])
    write_prometheus(score, paths["prometheus"])
    return paths
