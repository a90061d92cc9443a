"""Send requests to an endpoint and write their true labels to a CSV file.

Rows come from scikit-learn's bundled breast-cancer dataset (the quickstart's data), each
as one request to ``/v1/endpoints/NAME/predict``; every answer's ``X-Request-ID`` goes to
the CSV with the row's true label, ready for ``shipyard feedback load``::

    python examples/traffic.py --url http://127.0.0.1:8000 --endpoint tumor --rows 300
"""

from __future__ import annotations

import argparse
import csv

import httpx
from sklearn.datasets import load_breast_cancer

from shipyard.auth import read_credentials
from shipyard.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="The data plane.")
    parser.add_argument("--endpoint", default="tumor", help="The endpoint to call.")
    parser.add_argument("--rows", type=int, default=300, help="How many requests.")
    parser.add_argument("--seed", type=int, default=1, help="Which rows (a random sample).")
    parser.add_argument("--labels", default="labels.csv", help="Where the labels go.")
    parser.add_argument(
        "--token",
        help="API token (default: SHIPYARD_TOKEN, else the one in $SHIPYARD_HOME/credentials).",
    )
    args = parser.parse_args()
    settings = Settings()
    token = args.token or settings.token or read_credentials(settings.home)
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    data = load_breast_cancer(as_frame=True).frame
    sample = data.sample(min(args.rows, len(data)), random_state=args.seed)
    path = f"/v1/endpoints/{args.endpoint}/predict"
    with (
        httpx.Client(base_url=args.url, timeout=10, headers=headers) as http,
        open(args.labels, "w") as out,
    ):
        writer = csv.writer(out)
        writer.writerow(["request_id", "label"])
        for _, row in sample.iterrows():
            features = row.drop("target").to_dict()
            answer = http.post(path, json={"instances": [features]})
            answer.raise_for_status()
            writer.writerow([answer.headers["x-request-id"], int(row["target"])])
    print(f"sent {len(sample)} requests to {args.url}{path}; labels in {args.labels}")


if __name__ == "__main__":
    main()
