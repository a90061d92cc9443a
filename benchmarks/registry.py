"""Registration and signature-validation cost, printed as a markdown table.

    python benchmarks/registry.py            # about a minute on 2 cores

Each figure is the median of a few runs in this process, on generated data: 15 float
columns, 3 string columns, 1 categorical, 1 datetime. Compare rows of one run only.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from shipyard.config import Settings
from shipyard.registry import Registry
from shipyard.schema import Signature


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"n{i}": rng.normal(size=rows) for i in range(15)}
    data |= {f"s{i}": rng.choice(["red", "green", "blue", "amber"], rows) for i in range(3)}
    data["c"] = pd.Categorical(rng.choice(["a", "b", "c"], rows))
    data["t"] = pd.to_datetime(rng.integers(10**9, 2 * 10**9, rows), unit="s")
    return pd.DataFrame(data)


def timed(action: Callable[[], object], repeat: int = 3) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    rows_out: list[tuple[str, str, str]] = []
    big = frame(1_000_000)
    signature = Signature.infer(big)
    plain = big.drop(columns=["t"])
    plain_signature = Signature.infer(plain.head(10_000))
    for rows in (1, 1_000, 100_000, 1_000_000):
        part = big.head(rows)
        seconds = timed(lambda part=part: signature.validate(part))
        rows_out.append(("validate DataFrame", f"{rows:,}", f"{seconds * 1e3:,.2f} ms"))
        if rows == 1:
            part = plain.head(rows)
            seconds = timed(lambda part=part: plain_signature.validate(part), repeat=5)
            rows_out.append(
                ("validate DataFrame, no datetime", f"{rows:,}", f"{seconds * 1e3:,.2f} ms")
            )
    for rows in (1, 64, 1_000):
        records = big.head(rows).astype({"t": str, "c": str}).to_dict(orient="records")
        seconds = timed(lambda records=records: signature.validate(records), repeat=5)
        rows_out.append(("validate JSON records", f"{rows:,}", f"{seconds * 1e3:,.2f} ms"))
        records = plain.head(rows).astype({"c": str}).to_dict(orient="records")
        seconds = timed(lambda records=records: plain_signature.validate(records), repeat=5)
        rows_out.append(
            ("validate JSON records, no datetime", f"{rows:,}", f"{seconds * 1e3:,.2f} ms")
        )
    numeric = [c for c in big.columns if c.startswith("n")]
    with tempfile.TemporaryDirectory() as home:
        registry = Registry.from_settings(Settings(home=Path(home), actor="bench"))
        for rows in (10_000, 100_000, 1_000_000):
            data = big.head(rows)[numeric]
            target = (data["n0"] > 0).to_numpy()
            model = LogisticRegression(max_iter=200).fit(data.head(10_000), target[:10_000])
            seconds = timed(
                lambda data=data, target=target, model=model: registry.register_model(
                    model, "bench", training_data=data, target=target
                ),
                repeat=1,
            )
            rows_out.append(("register_model (15 floats)", f"{rows:,}", f"{seconds:,.2f} s"))
        registry.db.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| operation | rows | time |")
    print("|---|---:|---:|")
    for operation, rows, value in rows_out:
        print(f"| {operation} | {rows} | {value} |")
    print(f"\npeak RSS of the whole run: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
