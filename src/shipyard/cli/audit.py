"""``shipyard audit``: the audit trail of every change to the metadata store."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from shipyard.cli._common import console, parse_since, print_json, registry
from shipyard.store.audit import AuditTrail

app = typer.Typer(
    help="The audit trail: who changed what and when, hash-chained so edits show.",
    no_args_is_help=True,
)


def trail() -> AuditTrail:
    return AuditTrail(registry().db)


@app.command("list")
def list_entries(
    since: str = typer.Option(
        None, "--since", help="Only from this time on (ISO 8601), or the last while (24h, 7d)."
    ),
    entity: str = typer.Option(None, "--entity", help="Only changes to this table."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most N rows, oldest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Changes, oldest first: when, who, what and which row."""
    found = trail().entries(since=parse_since(since), entity=entity, limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no changes recorded yet")
        return
    table = Table(title=f"{len(found)} change{'' if len(found) == 1 else 's'}")
    for name in ("id", "at", "actor", "action", "entity", "key", "fields"):
        table.add_column(name, justify="right" if name == "id" else "left")
    for row in found:
        fields = row["after"] if row["after"] is not None else row["before"]
        table.add_row(
            str(row["id"]), row["at"][:19], row["actor"], row["action"], row["entity"],
            row["key"], ", ".join(sorted(fields or {})),
        )  # fmt: skip
    console.print(table)


@app.command()
def export(
    output: Path = typer.Option(
        None, "--output", help="A file to write (default: standard output)."
    ),
    since: str = typer.Option(
        None, "--since", help="Only from this time on (ISO 8601), or the last while (24h, 7d)."
    ),
) -> None:
    """Every change as JSON lines (with its hash and the previous one's)."""
    if output is None:
        trail().export(sys.stdout, since=parse_since(since))
        return
    with output.open("w", encoding="utf-8") as out:
        count = trail().export(out, since=parse_since(since))
    console.print(f"{count:,} changes written to {output}")


@app.command()
def verify(
    head: str = typer.Option(
        None,
        "--head",
        help="A hash an earlier verify printed: the chain must still reach it.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recompute the hash chain; exit 1 if a row was edited, added or removed."""
    found = trail().verify(head=head)
    if as_json:
        print_json(found.to_dict())
    elif found.ok:
        console.print(
            f"the audit trail holds: {found.rows:,} changes, head {found.head} "
            "(keep it: verify --head HEAD later proves nothing before it was cut)"
        )
    else:
        console.print(f"the audit trail was tampered with: {found.problem}")
    if not found.ok:
        raise typer.Exit(1)
