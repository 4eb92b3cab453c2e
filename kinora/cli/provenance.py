"""`kinora provenance check FILE`: ask the gateway's public check whether a clip
(or a still) was made here. No sign-in needed."""

from __future__ import annotations

import mimetypes
from pathlib import Path

import typer

from kinora.cli.user import JSON, CliError, call, emit, run


def describe(answer: dict) -> str:
    if not answer.get("made_here"):
        c2pa = answer.get("c2pa", {}).get("state")
        extra = f" (its C2PA manifest is {c2pa}, not signed by this platform)" if c2pa not in (None, "absent") else ""
        return f"not made here: no Kinora watermark or Kinora-signed manifest found{extra}"
    layers = " and ".join(answer.get("layers", []))
    if answer.get("shared"):
        post = answer.get("post", {}).get("id", "")
        where = f", post {post}" if post else ""
        return f"made here (found by {layers}): generation {answer['generation_id']}{where}"
    return f"made here (found by {layers}); it is not published publicly, so which generation stays private"


def register(app: typer.Typer) -> None:
    provenance = typer.Typer(help="was a clip made here? (C2PA manifest and invisible watermark)")
    app.add_typer(provenance, name="provenance")

    @provenance.command("check")
    def check(
        file: Path = typer.Argument(
            ..., exists=True, dir_okay=False, readable=True, help="a video (MP4, MOV, WebM; at most 30 MB) or an image"
        ),
        json_out: bool = JSON,
    ):
        """Checks FILE with the public provenance endpoint (no account needed)."""

        def go():
            data = file.read_bytes()
            if len(data) > 30 * 2**20:
                raise CliError("the file is larger than 30 MB, the check's limit")
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            answer = call("POST", "/api/v1/provenance/check", auth=False, files={"file": (file.name, data, kind)})
            emit(answer, json_out, describe(answer))

        run(go)
