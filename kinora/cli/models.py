"""`kinora models ...`: operator commands for model stores."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

models_app = typer.Typer(help="Model stores for the GPU models (LTX-2).", no_args_is_help=True)
console = Console(stderr=True)


@models_app.command("check")
def check(
    folder: Path = typer.Argument(..., help="model store folder (docs/ltx2.md)"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document"),
):
    """Validate an LTX-2 model store: missing parts, tensor shapes, dtypes. Reads no weights."""
    from kinora.models.ltx2_store import check_store

    report = check_store(folder)
    if json_out:
        print(json.dumps({"store": str(folder), "ok": report.ok, "problems": report.problems, "notes": report.notes}))
    else:
        for note in report.notes:
            console.print(f"  {note}", highlight=False)
        for problem in report.problems:
            console.print(f"[red]problem:[/red] {problem}", highlight=False)
        if report.ok:
            console.print(f"[green]ok:[/green] {folder} is a usable LTX-2 model store", highlight=False)
        else:
            console.print(f"[red]{len(report.problems)} problem(s)[/red] in {folder}", highlight=False)
    raise typer.Exit(0 if report.ok else 1)


def register(app: typer.Typer) -> None:
    """Add the `models` command group to the `kinora` CLI."""
    app.add_typer(models_app, name="models")
