"""`maildrill schema` and `maildrill validate`: scenario files checked before a drill runs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def register(cli: click.Group) -> None:
    @cli.command()
    def schema() -> None:
        """Print the JSON Schema of scenario files (for editors)."""
        from testbed.drill.scenario import json_schema

        click.echo(json.dumps(json_schema(), indent=1))

    @cli.command()
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
    def validate(files: tuple[Path, ...]) -> None:
        """Check scenario files; every error with its file, line and field; exit 1 on any."""
        from testbed.drill.scenario import check_scenario

        failed = 0
        for path in files:
            scenario, errors = check_scenario(path)
            for err in errors:
                click.echo(str(err), err=True)
            if errors:
                failed += 1
            else:
                summary: Any = scenario
                click.echo(
                    f"{path}: ok ({summary.name}, chapter {summary.chapter}, "
                    f"{len(summary.faults)} fault(s))"
                )
        if failed:
            click.echo(f"{failed} of {len(files)} file(s) invalid", err=True)
            sys.exit(1)
