"""`understudy index`: bring the knowledge index up to date."""

from __future__ import annotations

import typer

from . import app, workspace
from .render import build_index, console, err_console, print_json


@app.command("index")
def index_command(
    ctx: typer.Context,
    rebuild: bool = typer.Option(False, "--rebuild", help="Embed every item again."),
    json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Embed new and changed knowledge items; unchanged ones are never embedded twice.

    The first index of a workspace with at least 30 answered threads also fits its
    confidence calibration (as `eval calibrate` does).
    """
    ws = workspace(ctx)
    stats = build_index(ws, rebuild=rebuild)
    calibrated = _first_calibration(ws, quiet=json_out)
    if json_out:
        print_json({**stats.__dict__, "calibrated": calibrated})
    else:
        console.print(f"{stats.items} items: {stats.embedded} embedded, {stats.reused} unchanged, "
                      f"{stats.removed} removed.")


def _first_calibration(ws, quiet: bool) -> bool:  # noqa: ANN001  (a Workspace)
    """Fit the workspace's calibration when it has none yet and enough data; say so."""
    from ..errors import UsageError
    from ..evaluate.workspace_calibration import calibrate_workspace, needs_first_calibration

    if not needs_first_calibration(ws):
        return False
    try:
        fit = calibrate_workspace(ws)
    except UsageError as exc:
        if not quiet:
            err_console.print(f"Calibration not fitted: {exc}")
        return False
    if not quiet:
        c = fit.calibration
        line = (f"Calibrated confidence on this workspace ({c.source}): abstain below "
                f"{c.threshold:.2f}" if fit.reached else
                "Calibration not fitted: no threshold reaches the target precision")
        console.print(line)
    return fit.reached
