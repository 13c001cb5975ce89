"""`understudy serve` (API, web page, Slack, webhooks), its API tokens, and `understudy watch`."""

from __future__ import annotations

import typer
from rich.markup import escape

from ..errors import NotFoundError, UsageError
from . import app, workspace
from .render import console, print_json
from .tables import label, number, print_table, value

serve_app = typer.Typer(
    help="Serve the API, web page, Slack app and GitLab webhook; manage API tokens.",
    invoke_without_command=True,
    no_args_is_help=False,
)
token_app = typer.Typer(help="Create, list and revoke API tokens (stored hashed).",
                        no_args_is_help=True)
serve_app.add_typer(token_app, name="token")
app.add_typer(serve_app, name="serve")


@serve_app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    backend: str | None = typer.Option(None, "--backend", help="Backend (default: retrieval)."),
    slack_socket: bool = typer.Option(
        False, "--slack-socket", help="Also connect to Slack in Socket Mode (SLACK_APP_TOKEN)."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64,
        help="Worker processes (each loads the model and the index; best with PostgreSQL)."),
) -> None:
    """Serve the API, web page, Slack app and GitLab webhook."""
    if ctx.invoked_subcommand is not None:
        return
    if not 0 < port < 65536:
        raise UsageError(f"--port {port} is not a port: use 1-65535")
    if workers > 1 and slack_socket:
        raise UsageError("--slack-socket holds one connection to Slack: run it with --workers 1 "
                         "(Slack's HTTP events work with any number of workers)")
    from ..serve import create_app

    ws = workspace(ctx)
    if not ws.store.tokens():
        console.print("[yellow]No API tokens yet: create one with "
                      "'understudy serve token create NAME' to use /v1 and the web page.[/]")
    if workers > 1:
        _serve_workers(ws, backend, host, port, workers)
        return
    server = create_app(ws, backend)
    handler = None
    if slack_socket:
        from ..serve.slack import socket_mode

        handler = socket_mode(server.state.service)
        handler.connect()
    import uvicorn

    console.print(f"Serving on http://{host}:{port}/ (API under /v1, OpenAPI at /openapi.json)")
    try:
        uvicorn.run(server, host=host, port=port, log_level="info", timeout_graceful_shutdown=30)
    finally:
        if handler is not None:
            handler.close()
        ws.close()


def _serve_workers(ws, backend: str | None, host: str, port: int, workers: int) -> None:
    """Several processes on one port; each opens the workspace itself."""
    import os

    import uvicorn

    from ..serve.worker import BACKEND_ENV, HOME_ENV

    os.environ[HOME_ENV] = str(ws.home)
    if backend:
        os.environ[BACKEND_ENV] = backend
    store = "PostgreSQL" if ws.store.dialect == "postgresql" else "the workspace's SQLite file"
    ws.close()
    console.print(f"Serving on http://{host}:{port}/ with {workers} workers sharing {store} "
                  f"(API under /v1, OpenAPI at /openapi.json)")
    uvicorn.run("understudy.serve.worker:make_app", factory=True, workers=workers, host=host,
                port=port, log_level="info", timeout_graceful_shutdown=30)


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Who or what the token is for."),
    scope: str | None = typer.Option(
        None, "--scope",
        help="ask: answers and chat (the web page); review: also drafts, feedback and send; "
        "admin: also API tokens. Default: ask.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the token as JSON."),
) -> None:
    """Create an API token; it is shown once and stored only as a hash."""
    from ..serve.auth import DEFAULT_SCOPE, SCOPES, create_token

    if not name.strip():
        raise UsageError("Give the token a name, e.g. 'understudy serve token create web'")
    chosen = (scope or DEFAULT_SCOPE).strip().lower()
    if chosen not in SCOPES:
        raise UsageError(f"Unknown scope '{scope}': use --scope {'|'.join(SCOPES)}")
    token_id, token = create_token(workspace(ctx).store, name.strip(), chosen)
    if json_out:
        print_json({"id": token_id, "name": name.strip(), "scope": chosen, "token": token})
        return
    console.print(f"Token {token_id} ({name.strip()}, scope {chosen}: {_covers(chosen)}), "
                  "shown only now:", highlight=False)
    console.print(token, soft_wrap=True, highlight=False)
    if scope is None:
        console.print(f"No --scope given: the token has the {DEFAULT_SCOPE} scope; use "
                      "--scope review or --scope admin for more.", highlight=False)


def _covers(scope: str) -> str:
    """What a scope allows, its own rights and those of the narrower scopes."""
    from ..serve.auth import SCOPES

    names = list(SCOPES)
    return "; ".join(SCOPES[s] for s in names[: names.index(scope) + 1])


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the tokens as JSON."),
) -> None:
    """List API tokens (their names and first characters, never the tokens)."""
    tokens = workspace(ctx).store.tokens()
    if json_out:
        print_json(tokens)
        return
    if not tokens:
        console.print("No API tokens: create one with 'understudy serve token create NAME'.")
        return
    rows = [[str(t["id"]), escape(t["name"]), t["scope"], f"{escape(t['prefix'])}…",
             f"revoked {t['revoked_at']}" if t["revoked_at"] else "live",
             t["last_used_at"] or "never"] for t in tokens]
    print_table(console, [number("id"), label("name"), value("scope"), value("starts with"),
                          value("state"), value("last used")], rows)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The token's id or name."),
) -> None:
    """Revoke API tokens by id or name; requests with them get 401 at once."""
    count = workspace(ctx).store.revoke_token(ref)
    if not count:
        raise NotFoundError(f"No live token '{ref}': see 'understudy serve token list'")
    console.print(f"Revoked {count} token{'s' if count > 1 else ''}.")


@app.command()
def watch(
    ctx: typer.Context,
    interval: float = typer.Option(300.0, "--interval", help="Seconds between polls."),
    once: bool = typer.Option(False, "--once", help="Poll once and exit."),
    projects: list[str] = typer.Option(None, "--project", help="GitLab project path (repeat)."),
    group: str | None = typer.Option(None, "--group", help="GitLab group path."),
    backend: str | None = typer.Option(None, "--backend", help="Backend (default: retrieval)."),
    json_out: bool = typer.Option(False, "--json", help="Print each round as JSON."),
) -> None:
    """Poll GitLab and draft answers as tickets arrive (post confident ones with auto_send)."""
    from ..watch import WatchRound
    from ..watch import watch as run_watch

    if interval <= 0:
        raise UsageError(f"--interval {interval} must be more than 0 seconds")

    def report(done: WatchRound) -> None:
        if json_out:
            print_json(done.to_dict())
            return
        s = done.synced
        console.print(f"Synced {s.new} new, {s.updated} updated; drafted {len(done.drafts)}, "
                      f"sent {done.sent}.")
        for draft in done.drafts:
            flag = "abstained" if draft.abstained else f"{draft.confidence:.2f}"
            console.print(f"  draft {draft.id} [{draft.status}, {flag}] {draft.thread_title} "
                          f"[blue]{draft.thread_url}[/]")

    def problem(exc: Exception) -> None:
        typer.secho(f"Error: {exc} (retrying in {interval:g} s)", fg="red", err=True)

    ws = workspace(ctx)
    options = {"projects": projects or [], "group": group}
    run_watch(ws, interval=interval, once=once, backend=backend, on_round=report,
              on_error=problem, **options)
