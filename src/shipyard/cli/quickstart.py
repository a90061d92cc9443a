"""``shipyard quickstart``: a first tour on a fresh (or existing) home."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from rich.table import Table

from shipyard.cli._common import console
from shipyard.config import Settings
from shipyard.sdk import get_registry

MODEL = "tumor-classifier"


def _train() -> tuple[list[tuple[str, Any, dict[str, float], str]], Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    features, target = data.data, data.target
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.25, random_state=0, stratify=target
    )
    candidates = [
        ("logistic regression", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
        ("random forest", RandomForestClassifier(n_estimators=100, max_depth=6, random_state=0)),
    ]
    trained = []
    for label, estimator in candidates:
        estimator.fit(x_train, y_train)
        predicted = estimator.predict(x_test)
        scores = estimator.predict_proba(x_test)[:, 1]
        metrics = {
            "accuracy": accuracy_score(y_test, predicted),
            "precision": precision_score(y_test, predicted),
            "recall": recall_score(y_test, predicted),
            "f1": f1_score(y_test, predicted),
            "roc_auc": roc_auc_score(y_test, scores),
        }
        trained.append((label, estimator, {k: float(v) for k, v in metrics.items()}, ""))
    return trained, (x_train, y_train), (x_test, y_test)


def run() -> None:
    """Train two classifiers, register them, alias the better one, and show what's next."""
    settings = Settings()
    started = time.perf_counter()
    registry = get_registry(settings)
    console.print(f"Shipyard home: {settings.home.resolve()}  (database {registry.db.display_url})")
    if settings.auth:
        from shipyard.auth import bootstrap

        made = bootstrap(registry.db, settings.home, settings.actor)
        if made is not None:
            console.print(
                f"Saved an admin API token to {made} (mode 0600): the shipyard CLI and SDK "
                "send it; servers want it as Authorization: Bearer <token>"
            )
    console.print(
        "Training two classifiers on scikit-learn's breast-cancer dataset "
        "(569 tumours, 30 features)…"
    )
    trained, (x_train, y_train), (x_test, y_test) = _train()

    before = {m.name: m.latest_version for m in registry.list_models(search=MODEL)}.get(MODEL, 0)
    registered = []
    for label, estimator, metrics, _ in trained:
        version = registry.register_model(
            estimator,
            MODEL,
            training_data=x_train,
            target=y_train,
            metrics=metrics,
            description=f"{label.capitalize()} on scikit-learn's breast-cancer dataset.",
            intended_use="Demonstration of Shipyard; not for medical decisions.",
            tags={"dataset": "sklearn-breast-cancer", "algorithm": label},
            reuse_identical=True,
        )
        registered.append((label, version))
        state = "already registered, reused" if version.version <= before else "registered"
        console.print(f"  {label}: {state} as {version.uri}")
    registry.update_model(
        MODEL,
        description="Tells benign (1) from malignant (0) tumours from cell-nucleus measurements.",
    )

    best = max(registered, key=lambda item: (item[1].metrics["f1"], -item[1].version))
    other = next(item for item in registered if item is not best)
    existing = registry.get_model(MODEL).aliases
    for alias, (_, version) in (("champion", best), ("challenger", other)):
        if alias not in existing:
            registry.set_alias(MODEL, alias, version.version)
        elif existing[alias] != version.version:
            console.print(
                f"  {alias} stays on version {existing[alias]}: it was moved since the last "
                "quickstart, so it is left alone"
            )
    aliases = registry.get_model(MODEL).aliases

    table = Table(title=f"model {MODEL}")
    for column in ("version", "algorithm", "accuracy", "f1", "roc_auc", "aliases"):
        table.add_column(column)
    for label, version in registered:
        m = version.metrics
        table.add_row(
            str(version.version),
            label,
            f"{m['accuracy']:.3f}",
            f"{m['f1']:.3f}",
            f"{m['roc_auc']:.3f}",
            ", ".join(a for a, v in aliases.items() if v == version.version),
        )
    console.print(table)

    loaded = registry.load(f"models:/{MODEL}@champion")
    sample = x_test.head(3)
    predicted = loaded.predict(sample)
    truth = np.asarray(y_test.head(3))
    console.print(
        f"Loaded models:/{MODEL}@champion (version {loaded.version.version}) and "
        f"predicted 3 held-out rows: {predicted.tolist()} (truth {truth.tolist()})"
    )
    console.print(f"Done in {time.perf_counter() - started:.1f} s.\n")
    console.print("[bold]Try next[/bold]")
    for line in (
        f"shipyard models show {MODEL}",
        f"shipyard models show {MODEL} champion",
        f"shipyard models card {MODEL} champion",
        f"shipyard alias set {MODEL} champion {other[1].version}",
        f"shipyard models verify {MODEL}",
        f"shipyard serve models:/{MODEL}@champion   # then POST /v1/models/{MODEL}/predict",
        "shipyard tokens create --role predictor --name demo   # a token for that POST",
        f"shipyard endpoints create tumor --model models:/{MODEL}@champion",
        "shipyard server   # serves the endpoint at /v1/endpoints/tumor/predict, runs rollouts",
        f"shipyard rollout start tumor --to models:/{MODEL}@challenger --steps 50,100 "
        "--interval 30s --guard 'error_rate<0.01'",
        "shipyard models versions --metric 'f1>=0.9'",
        f"python -c \"import shipyard; m = shipyard.load_model('models:/{MODEL}@champion'); "
        f'print(m.signature.names[:3])"',
    ):
        console.print(f"  {line}")
