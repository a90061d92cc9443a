"""``shipyard log``: erasure and retention of the prediction log and feedback."""

from __future__ import annotations

import typer
from rich.table import Table

from shipyard.cli._common import console, print_json, registry
from shipyard.errors import InvalidInputError
from shipyard.predictions.erasure import EVERYTHING, Removed, Retention

app = typer.Typer(
    help="The prediction log: erase a request's or a subject's rows; keep N days.",
    no_args_is_help=True,
)
_JSON = typer.Option(False, "--json", help="Print JSON.")


def service() -> Retention:
    store = registry()
    return Retention(store, store.settings.predictions, store.settings.feedback)


def _report(removed: Removed, what: str, as_json: bool) -> None:
    if as_json:
        print_json(removed.to_dict())
        return
    console.print(
        f"{what}: {removed.rows:,} logged rows and {removed.feedback_rows:,} feedback rows "
        f"removed ({removed.files_rewritten} files rewritten, {removed.files_removed} files "
        f"and {len(removed.days_removed)} days removed)"
    )


@app.command()
def erase(
    request_id: list[str] = typer.Option(
        None, "--request-id", help="A request whose rows to erase (repeatable)."
    ),
    subject: str = typer.Option(
        None, "--subject", help="COLUMN=VALUE: every row whose input COLUMN is VALUE."
    ),
    as_json: bool = _JSON,
) -> None:
    """Erase rows from the prediction log and their feedback, for good; the audit trail
    records that it was done and how many rows went, not which."""
    pair = None
    if subject is not None:
        column, equals, value = subject.partition("=")
        if not equals or not column:
            raise InvalidInputError(f"--subject {subject!r}: give COLUMN=VALUE, e.g. customer=42")
        pair = (column, value)
    removed = service().erase(request_ids=request_id or [], subject=pair)
    _report(removed, "erased", as_json)


@app.command()
def retain(
    endpoint: str = typer.Argument(..., help="An endpoint, or * for everything."),
    days: int = typer.Option(None, "--days", min=1, help="Keep this many days."),
    forever: bool = typer.Option(False, "--forever", help="Keep it for good again."),
    as_json: bool = _JSON,
) -> None:
    """Keep DAYS days of ENDPOINT's log (* for everything); `shipyard server` removes
    older rows every SHIPYARD_RETENTION_PERIOD_S, `shipyard log expire` now."""
    if (days is None) == (not forever):
        raise InvalidInputError("give --days N, or --forever to keep the log for good")
    policies = service().set(endpoint, None if forever else days)
    if as_json:
        print_json(policies)
        return
    kept = "for good" if forever else f"{days} days"
    console.print(
        f"the log of {'everything' if endpoint == EVERYTHING else endpoint} is kept {kept}"
    )


@app.command()
def retention(as_json: bool = _JSON) -> None:
    """Days kept, by endpoint (* for everything)."""
    policies = service().policies()
    if as_json:
        print_json(policies)
        return
    if not policies:
        console.print(
            "the log is kept for good; set a period with: shipyard log retain * --days 90"
        )
        return
    table = Table(title="retention")
    table.add_column("endpoint")
    table.add_column("days kept", justify="right")
    for name, days in sorted(policies.items()):
        table.add_row(name, str(days))
    console.print(table)


@app.command()
def expire(as_json: bool = _JSON) -> None:
    """Remove the log past its retention now."""
    _report(service().expire(), "expired", as_json)
