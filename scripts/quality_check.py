#!/usr/bin/env python3
"""Checks fluz's cashback-rate models against scikit-learn and XGBoost on the same data.

Reads the CSV exports of a finished fluz run and, with fluz's own train/test split and CV folds,
tunes and scores reference models on fluz's grid:

- LinearRegression (no grid) and DecisionTreeRegressor (max_depth in {4, 8, 12});
- RandomForestRegressor: 300 bootstrapped trees, max_features in {"sqrt", 0.5},
  min_samples_leaf in {1, 5};
- XGBRegressor (tree_method="hist"): 400 rounds, learning_rate 0.05, max_depth in {3, 6},
  subsample 0.8, reg_lambda 1, min_child_weight 1.

Each family's grid point is chosen by mean CV RMSE over the 5 hash folds, refitted on the whole
train split and scored on the test split (RMSE, MAE, R²). The script prints one markdown table
with these results next to fluz's from model_comparison.csv, the relative gap of fluz's best test
RMSE to the best of RandomForest and XGBoost, and the wall time of each family's grid + CV.

Not run by CI; it needs a virtualenv with the reference libraries:

    python3 -m venv /tmp/qc-venv
    /tmp/qc-venv/bin/pip install scikit-learn xgboost pandas
    /tmp/qc-venv/bin/python scripts/quality_check.py [OUT_DIR]     # default /tmp/real/out

Inputs (in OUT_DIR): customer_features.csv, cashback_predictions.csv (split, optimal_rate) and
model_comparison.csv.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from fluzhash import fnv1a64
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.tree import DecisionTreeRegressor
from xgboost import XGBRegressor

# Model features, in fluz's order ([train] features in config.toml).
FEATURES = [
    "n_lines", "n_invoices", "total_quantity", "total_spent", "avg_item_price",
    "spend_to_price_ratio", "avg_basket_value", "recency_days", "tenure_days",
    "social_degree", "social_pagerank", "merchant_avg_stars", "merchant_avg_reviews",
    "merchant_commission",
]
TARGET = "optimal_rate"

# fluz's [train] defaults: seed, number of CV folds, test share of the hash split.
SEED = 42
N_FOLDS = 5
TEST_PERCENT = 20

# Allowed relative gap of fluz's best test RMSE to the best reference ensemble.
GAP_TOLERANCE = 0.02


def hash_customer(namespace: str, customer_id: int, seed: int = SEED) -> int:
    """fluz's h(ns, c): FNV-1a 64 of the UTF-8 bytes of "{ns}:{seed}:{customer_id}"."""
    return fnv1a64(f"{namespace}:{seed}:{customer_id}".encode("utf-8"))


def fold_of(customer_id: int) -> int:
    """CV fold of a training customer (fluz models::split::fold)."""
    return hash_customer("fold", customer_id) % N_FOLDS


def is_test(customer_id: int) -> bool:
    """Test-side membership (fluz models::split::is_test); used only as a cross-check."""
    return hash_customer("split", customer_id) % 100 < TEST_PERCENT


def load(out_dir: str) -> pd.DataFrame:
    """One row per customer: the model features, the target and fluz's split."""
    features = pd.read_csv(os.path.join(out_dir, "customer_features.csv"))
    predictions = pd.read_csv(
        os.path.join(out_dir, "cashback_predictions.csv"),
        usecols=["customer_id", "split", TARGET],
    )
    data = features.merge(predictions, on="customer_id", how="inner", validate="one_to_one")
    if len(data) != len(features) or len(data) != len(predictions):
        sys.exit(
            f"customer_features.csv ({len(features)} rows) and cashback_predictions.csv "
            f"({len(predictions)} rows) do not hold the same customers"
        )
    missing = data[FEATURES + [TARGET]].isna().sum()
    if missing.any():
        sys.exit(f"missing values in: {missing[missing > 0].to_dict()}")
    return data


def check_folds(train: pd.DataFrame, data: pd.DataFrame) -> np.ndarray:
    """Computes and prints the hash folds of the train rows, with sanity checks."""
    print("## Fold hash check\n")
    # Published FNV-1a 64 test vectors (also in fluz's linkage.rs tests).
    assert fnv1a64(b"") == 0xCBF29CE484222325
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8
    print("- FNV-1a 64 matches the published vectors for \"\", \"a\", \"foobar\"")
    for cid in (17850, 12346, 12347):
        h = hash_customer("fold", cid)
        print(f"- fnv1a64(\"fold:{SEED}:{cid}\") = {h:#018x} -> fold {h % N_FOLDS}")
    # The given split column should agree with fluz's split hash.
    recomputed = data["customer_id"].map(is_test)
    disagree = int((recomputed != (data["split"] == "test")).sum())
    print(f"- split column vs split hash (\"split:{SEED}:id\" % 100 < {TEST_PERCENT}): "
          f"{disagree} disagreement(s) out of {len(data)} rows")

    folds = train["customer_id"].map(fold_of).to_numpy()
    sizes = np.bincount(folds, minlength=N_FOLDS)
    shares = ", ".join(f"{s} ({s / len(train):.1%})" for s in sizes)
    print(f"- fold sizes over {len(train)} train rows: {shares}; expected about "
          f"{len(train) / N_FOLDS:.0f} ({1 / N_FOLDS:.0%}) each\n")
    if sizes.min() < 0.8 * len(train) / N_FOLDS or sizes.max() > 1.2 * len(train) / N_FOLDS:
        print("WARNING: fold sizes are far from 1/5 of the train rows\n")
    return folds


def families(seed: int):
    """(fluz family name, label, estimator, grid) for each reference family.

    Estimators run single-threaded; the parallelism (n_jobs) is over (grid point, fold) fits,
    as in fluz's cross_validate.
    """
    return [
        ("linear", "sklearn LinearRegression", LinearRegression(), {}),
        ("decision_tree", "sklearn DecisionTreeRegressor",
         DecisionTreeRegressor(min_samples_leaf=1, random_state=seed),
         {"max_depth": [4, 8, 12]}),
        ("random_forest", "sklearn RandomForestRegressor",
         RandomForestRegressor(n_estimators=300, bootstrap=True, max_depth=None,
                               random_state=seed, n_jobs=1),
         {"max_features": ["sqrt", 0.5], "min_samples_leaf": [1, 5]}),
        ("gradient_boosting", "XGBoost XGBRegressor (hist)",
         XGBRegressor(tree_method="hist", n_estimators=400, learning_rate=0.05,
                      subsample=0.8, reg_lambda=1.0, min_child_weight=1.0,
                      random_state=seed, n_jobs=1),
         {"max_depth": [3, 6]}),
    ]


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    return {
        "test_rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "test_mae": float(mean_absolute_error(y_true, y_pred)),
        "test_r2": float(r2_score(y_true, y_pred)),
    }


def run_family(estimator, grid, x_train, y_train, x_test, y_test, cv, n_jobs):
    """Grid + CV (timed), then refit of the best grid point on all train rows and test scores.

    Returns (result row, number of grid points, wall seconds of grid + CV).
    """
    search = GridSearchCV(
        estimator,
        # An empty grid (LinearRegression) still needs one (empty) parameter set.
        grid or [{}],
        scoring="neg_root_mean_squared_error",
        cv=cv,
        n_jobs=n_jobs,
        refit=False,
    )
    started = time.perf_counter()
    search.fit(x_train, y_train)
    cv_seconds = time.perf_counter() - started

    # Mean over folds of per-fold RMSE, as fluz's cv_rmse; the first minimum wins ties.
    cv_rmse = -search.cv_results_["mean_test_score"]
    best = int(np.argmin(cv_rmse))
    params = search.cv_results_["params"][best]

    model = clone(estimator).set_params(**params)
    if "n_jobs" in model.get_params():
        model.set_params(n_jobs=n_jobs)
    model.fit(x_train, y_train)
    return {
        "params": json.dumps(params, sort_keys=True),
        "cv_rmse": float(cv_rmse[best]),
        **scores(y_test, model.predict(x_test)),
    }, len(cv_rmse), cv_seconds


def _warm_up() -> int:
    """Imports, in a worker process, what the CV fits use."""
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection._validation  # noqa: F401
    import sklearn.tree  # noqa: F401
    import xgboost  # noqa: F401

    time.sleep(0.2)  # hold the worker so that every worker gets a share of the calls
    return os.getpid()


def fluz_results(out_dir: str) -> pd.DataFrame:
    comparison = pd.read_csv(os.path.join(out_dir, "model_comparison.csv"))
    return comparison.set_index("family")


def fluz_grid_seconds(out_dir: str) -> pd.Series:
    """fluz's summed per-fit seconds of grid + CV per family (model_grid.csv), if present."""
    path = os.path.join(out_dir, "model_grid.csv")
    if not os.path.exists(path):
        return pd.Series(dtype=float)
    return pd.read_csv(path).groupby("family")["fit_seconds"].sum()


def fmt(value) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", default="/tmp/real/out",
                        help="folder of a finished fluz run's CSV exports (default /tmp/real/out)")
    parser.add_argument("--n-jobs", type=int, default=2,
                        help="parallel (grid point, fold) fits; also the refit's threads")
    args = parser.parse_args()

    data = load(args.out_dir)
    train = data[data["split"] == "train"].reset_index(drop=True)
    test = data[data["split"] == "test"].reset_index(drop=True)
    print(f"# fluz model quality check: {args.out_dir}\n")
    print(f"{len(data)} customers: {len(train)} train, {len(test)} test\n")

    folds = check_folds(train, data)
    cv = PredefinedSplit(folds)
    x_train, y_train = train[FEATURES].to_numpy(float), train[TARGET].to_numpy(float)
    x_test, y_test = test[FEATURES].to_numpy(float), test[TARGET].to_numpy(float)

    # Start joblib's worker processes and load the libraries in them now, so that this start-up
    # (seconds) is not charged to the first family timed; the searches below reuse the workers.
    Parallel(n_jobs=args.n_jobs)(delayed(_warm_up)() for _ in range(4 * args.n_jobs))

    fluz = fluz_results(args.out_dir)
    fluz_seconds = fluz_grid_seconds(args.out_dir)
    rows, timings, reference = [], [], {}
    for family, label, estimator, grid in families(SEED):
        result, n_points, seconds = run_family(estimator, grid, x_train, y_train,
                                               x_test, y_test, cv, args.n_jobs)
        reference[family] = result
        timings.append((label, n_points, seconds, fluz_seconds.get(family)))
        if family in fluz.index:
            row = fluz.loc[family]
            rows.append({"source": "fluz", "family": family, "params": row["params"],
                         **{k: float(row[k]) for k in
                            ("cv_rmse", "test_rmse", "test_mae", "test_r2")}})
        rows.append({"source": label.split()[0], "family": label.split(" ", 1)[1], **result})

    columns = ["source", "family", "params", "cv_rmse", "test_rmse", "test_mae", "test_r2"]
    print("## Results (selected by mean CV RMSE; test on fluz's test split)\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(fmt(row[c]) for c in columns) + " |")

    # Relative gap of fluz's best test RMSE to the best reference ensemble.
    fluz_best = fluz["test_rmse"].astype(float).idxmin()
    fluz_rmse = float(fluz.loc[fluz_best, "test_rmse"])
    ref_family = min(("random_forest", "gradient_boosting"),
                     key=lambda f: reference[f]["test_rmse"])
    ref_rmse = reference[ref_family]["test_rmse"]
    ref_label = "RandomForest" if ref_family == "random_forest" else "XGBoost"
    gap = (fluz_rmse - ref_rmse) / ref_rmse
    print(f"\nfluz best test RMSE {fluz_rmse:.6f} ({fluz_best}) vs best of RandomForest/XGBoost "
          f"{ref_rmse:.6f} ({ref_label}): relative gap {gap:+.2%} "
          f"(negative = fluz better); within {GAP_TOLERANCE:.0%}? "
          f"{'yes' if gap <= GAP_TOLERANCE else 'NO'}\n")

    print(f"## Grid + CV wall time (n_jobs={args.n_jobs}, {N_FOLDS} folds)\n")
    print("| family | grid points | wall seconds | fluz summed fit_seconds |")
    print("|---|---|---|---|")
    for label, n_points, seconds, fluz_secs in timings:
        fluz_text = "" if fluz_secs is None else f"{fluz_secs:.2f}"
        print(f"| {label} | {n_points} | {seconds:.2f} | {fluz_text} |")
    print("\nfluz's fit_seconds (model_grid.csv) adds up the time of each (grid point, fold) fit "
          "run in parallel, so it is CPU-side work, not the wall time of its grid.")


if __name__ == "__main__":
    main()
