"""Model cards: a Markdown page per version, generated from its metadata."""

from __future__ import annotations

from typing import Any

from shipyard.registry.types import ModelVersion

_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|#"} | {"<": "&lt;", ">": "&gt;"})


def _plain(value: Any) -> str:
    """A value as text: floats to 6 significant digits, on one line."""
    if value is None:
        return ""
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return " ".join(text.split("\n"))


def _cell(value: Any) -> str:
    """User data (names, labels, values) made inert in Markdown and HTML."""
    return _plain(value).translate(_SPECIAL)


def _prose(text: str) -> str:
    """User-written Markdown (descriptions): kept, but with no raw HTML."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _summary(column: dict[str, Any]) -> str:
    """One-line summary of a column profile: range and median, or the top categories."""
    kind = column.get("kind")
    if kind == "numeric":
        quantiles = column.get("quantiles") or {}
        median = quantiles.get("0.5") if isinstance(quantiles, dict) else None
        parts = [f"min {_plain(column.get('min'))}", f"max {_plain(column.get('max'))}"]
        if median is not None:
            parts.insert(1, f"median {_plain(median)}")
        if column.get("mean") is not None:
            parts.append(f"mean {_plain(column.get('mean'))}")
        return ", ".join(parts)
    counts = column.get("categories") or {}
    if isinstance(counts, dict) and counts:
        top = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:5]
        more = len(counts) - len(top)
        text = ", ".join(f"{k} ({v})" for k, v in top)
        return text + (f", … {more} more" if more > 0 else "")
    if kind == "datetime":
        return f"{column.get('earliest')} to {column.get('latest')}"
    return ""


def render_card(version: ModelVersion) -> str:
    """The Markdown model card of ``version``."""
    out: list[str] = [f"# {version.name} — version {version.version}", ""]
    out += [
        f"- **URI:** `{version.uri}`",
        f"- **Flavor:** {version.flavor}",
        f"- **Registered:** {version.created_at.isoformat(timespec='seconds')} by "
        f"{version.created_by}",
        f"- **Files digest:** `sha256:{version.artifact_digest}`",
        "",
        "## Description",
        "",
        _prose(version.description) or "_No description was given at registration._",
        "",
        "## Intended use",
        "",
        _prose(version.intended_use) or "_Not stated at registration._",
        "",
    ]
    output = version.signature.output
    out += ["## Output", ""]
    if output is None:
        out += ["_Not inferred (no training data was given)._", ""]
    else:
        out.append(f"- **Kind:** {output.kind.replace('_', ' ')} (`{output.dtype}`)")
        if output.classes is not None:
            out.append(f"- **Classes:** {', '.join(_cell(c) for c in output.classes)}")
        out += [f"- **Probabilities:** {'yes' if output.probabilities else 'no'}", ""]

    out += ["## Training data", ""]
    lineage = version.lineage or {}
    data = lineage.get("training_data") or {}
    profile = version.profile or {}
    if data:
        out += [
            f"- **Rows:** {data.get('rows')}",
            f"- **Columns:** {len(data.get('columns') or [])}",
            f"- **Fingerprint:** `sha256:{data.get('sha256')}`",
            "",
        ]
    columns = profile.get("columns") or {}
    if columns:
        rows = []
        for name, column in columns.items():
            rate = column.get("missing_rate")
            rows.append(
                [
                    name,
                    column.get("kind"),
                    f"{100 * rate:.1f}%" if rate is not None else "",
                    _summary(column),
                ]
            )
        out += _table(["column", "kind", "missing", "summary"], rows)
    target = version.target_profile
    if target:
        out += [f"Target: {_cell(_summary(target))}", ""]
    if not data and not columns:
        out += ["_No training data was given at registration._", ""]

    out += ["## Metrics", ""]
    if version.metrics:
        out += _table(["metric", "value"], [[k, v] for k, v in sorted(version.metrics.items())])
    else:
        out += ["_None recorded._", ""]

    out += ["## Parameters", ""]
    if version.params:
        out += _table(["parameter", "value"], [[k, v] for k, v in sorted(version.params.items())])
    else:
        out += ["_None recorded._", ""]

    out += ["## Signature", ""]
    rows = []
    for spec in version.signature.inputs:
        if spec.categories is not None:
            detail = ", ".join(map(str, spec.categories[:10]))
            detail += " …" if len(spec.categories) > 10 else ""
        elif spec.min is not None:
            detail = f"{_plain(spec.min)} to {_plain(spec.max)}"
        else:
            detail = ""
        rows.append([spec.name, spec.kind, spec.dtype, "yes" if spec.nullable else "no", detail])
    out += _table(["column", "kind", "dtype", "nullable", "range or values"], rows)

    out += ["## Lineage", ""]
    code = lineage.get("code_version") or {}
    if code.get("commit"):
        dirty = " (with uncommitted changes)" if code.get("dirty") else ""
        out.append(f"- **Code version:** `{code['commit']}`{dirty}")
    else:
        out.append("- **Code version:** unknown (not run from a git repository)")
    if lineage.get("source_file"):
        out.append(f"- **Registered from file:** {lineage['source_file']}")
    for key, value in (lineage.get("extra") or {}).items():
        out.append(f"- **{_cell(key)}:** {_cell(value)}")
    out.append("")

    environment = lineage.get("environment") or {}
    out += ["## Environment", ""]
    out.append(
        f"- **Python:** {environment.get('python', 'unknown')} ({environment.get('platform', '')})"
    )
    out.append("")
    packages = environment.get("packages") or {}
    if packages:
        out += _table(["package", "version"], [[k, v] for k, v in packages.items()])

    out += ["## Files", ""]
    out += _table(
        ["file", "bytes", "sha256"],
        [
            [name, entry.get("size"), entry.get("sha256")]
            for name, entry in sorted(version.artifacts.items())
        ],
    )
    return "\n".join(out).rstrip() + "\n"
