"""Peak memory of a batch job against the size of its input, as a markdown table.

    python benchmarks/batch_memory.py       # SIZE_GB=5 by default (needs about 7 GB of disk)
    LOG_FRACTION=1 SIZE_GB=1 python benchmarks/batch_memory.py   # with every row logged

Writes a Parquet input of about ``SIZE_GB`` gigabytes (20 float64 columns of random
values, which do not compress: about 160 bytes a row, written row group by row group so
the generator itself stays small), registers the serving benchmark's logistic regression,
and runs ``shipyard batch score`` on it in a child process, once with the default chunks
(65,536 rows) and ``--log-fraction LOG_FRACTION`` (default 0: no prediction log).
Prints the input's size and rows, the time, and the child's peak resident memory
(``ru_maxrss`` of the finished child).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from shipyard.config import Settings
from shipyard.registry import Registry

SIZE_GB = float(os.environ.get("SIZE_GB", "5"))
#: Share of the rows written to the prediction log (the command's default is 1).
LOG_FRACTION = os.environ.get("LOG_FRACTION", "0")
GROUP = 500_000


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="shipyard-batch-memory-"))
    try:
        settings = Settings(home=home / "home")
        registry = Registry.from_settings(settings)
        x, y = make_classification(n_samples=20_000, n_features=20, random_state=0)
        names = [f"x{i}" for i in range(20)]
        train = pd.DataFrame(x, columns=names)
        model = LogisticRegression(max_iter=1000, random_state=0).fit(train, y)
        registry.register_model(model, "logreg", training_data=train)
        registry.db.dispose()

        source = home / "input.parquet"
        rng = np.random.default_rng(0)
        schema = pa.schema([(n, pa.float64()) for n in names])
        rows = 0
        with pq.ParquetWriter(source, schema) as writer:
            while source.stat().st_size < SIZE_GB * 1e9 if source.exists() else True:
                block = rng.normal(size=(GROUP, 20))
                writer.write_table(pa.table(dict(zip(names, block.T, strict=True))))
                rows += GROUP
                if rows * 160 > SIZE_GB * 1.1e9:
                    break
        size = source.stat().st_size
        env = os.environ | {"SHIPYARD_HOME": str(settings.home)}
        command = [
            sys.executable, "-m", "shipyard", "batch", "score", "models:/logreg/1",
            "--input", str(source), "--output", str(home / "out"), "--log-fraction", LOG_FRACTION,
            "--json",
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print("| input | rows | log fraction | seconds | rows/s | peak RSS of the job |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(
            f"| {size / 1e9:.2f} GB | {rows:,} | {LOG_FRACTION} | {seconds:.1f} | "
            f"{rows / seconds:,.0f} | {peak_mb:,.0f} MB |"
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
