"""``shipyard alias``: movable names for versions."""

from __future__ import annotations

import typer

from shipyard.cli._common import console, registry

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Set, move and delete aliases (champion, challenger, …).",
    no_args_is_help=True,
)


@app.command("set")
def set_(
    name: str = typer.Argument(..., help="Model name."),
    alias: str = typer.Argument(..., help="Alias, e.g. champion."),
    version: int = typer.Argument(..., help="Version number the alias should point at."),
) -> None:
    """Point ALIAS of model NAME at VERSION (creates it, or moves it atomically)."""
    result = registry().set_alias(name, alias, version)
    if result.previous_version is None:
        console.print(f"{name}@{alias} -> version {version}")
    elif result.previous_version == version:
        console.print(f"{name}@{alias} already points at version {version}")
    else:
        console.print(f"{name}@{alias} moved from version {result.previous_version} to {version}")


@app.command()
def delete(
    name: str = typer.Argument(..., help="Model name."),
    alias: str = typer.Argument(..., help="Alias to remove."),
) -> None:
    """Remove ALIAS from model NAME."""
    gone = registry().delete_alias(name, alias)
    console.print(f"deleted {name}@{alias} (it pointed at version {gone.version})")
