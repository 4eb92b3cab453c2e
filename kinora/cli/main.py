"""The `kinora` command. Stack commands live here; user and ops commands are
registered from their own modules."""

from __future__ import annotations

import json
import signal
import sys
import threading

import typer
from rich.console import Console
from rich.table import Table

from kinora.stack.local import LocalStack, StackError, kinora_home
from kinora.stack.local import status as stack_status

app = typer.Typer(
    help="Kinora: consent-gated social AI video, self-hosted.", no_args_is_help=True, pretty_exceptions_enable=False
)
console = Console(stderr=True)


def fail(message: str, code: int = 1):
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def up(
    workers: int = typer.Option(1, help="generator worker processes"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document"),
):
    """Start the whole platform locally and keep it running until Ctrl-C or SIGTERM."""
    stack = LocalStack(workers=workers, log=lambda m: console.print(m))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with console.status("starting Kinora…"):
            state = stack.start()
    except StackError as exc:
        fail(str(exc))
    try:
        if json_out:
            print(
                json.dumps(
                    {
                        "home": state.home,
                        "gateway_url": state.gateway_url,
                        "components": [c.name for c in state.components],
                    }
                )
            )
        else:
            console.print(f"[green]Kinora is up[/green] ({len(state.components)} components, data in {state.home})")
            if state.gateway_url:
                print(f"gateway: {state.gateway_url}")
            console.print("press Ctrl-C to stop")
        stop.wait()
    finally:
        console.print("stopping…")
        stack.stop()
        console.print("stopped")


@app.command()
def status(json_out: bool = typer.Option(False, "--json", help="print one JSON document")):
    """Health of each component of the local stack; non-zero exit if any is not serving."""
    try:
        rows = stack_status()
    except StackError as exc:
        fail(str(exc))
    healthy = all(ok for _, ok, _ in rows)
    if json_out:
        print(
            json.dumps(
                {
                    "serving": healthy,
                    "components": [
                        {"name": c.name, "address": c.address, "serving": ok, "detail": d} for c, ok, d in rows
                    ],
                }
            )
        )
    else:
        table = Table("component", "address", "status")
        for c, ok, detail in rows:
            table.add_row(c.name, c.address or "-", f"[green]{detail}[/green]" if ok else f"[red]{detail}[/red]")
        Console().print(table)
    raise typer.Exit(0 if healthy else 1)


@app.command()
def demo(keep: bool = typer.Option(False, "--keep", help="leave the stack and Kinora Web running afterwards")):
    """The platform's main job on embedded defaults."""
    from kinora.cli.demo import run_demo

    sys.exit(run_demo(kinora_home(), keep=keep))


def _register_optional() -> None:
    # Command groups that other modules contribute (gateway issue: user commands).
    import importlib

    for module in ("kinora.cli.user", "kinora.cli.takedowns", "kinora.cli.models", "kinora.cli.provenance"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(app)


_register_optional()

if __name__ == "__main__":
    app()
