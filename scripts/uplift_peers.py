#!/usr/bin/env python3
"""fluz uplift vs causalml 0.18 on the Hillstrom e-mail test, on fluz's own train/test split.

Outside the project and its tests (a venv with causalml, xgboost and scikit-uplift):

    python3 -m venv /work/venvs/uplift
    /work/venvs/uplift/bin/pip install causalml==0.18.0 xgboost-cpu scikit-uplift pandas
    fluz --config examples/hillstrom.toml uplift    # writes out-hillstrom/uplift_split.csv
    fluz --config examples/hillstrom.toml export    # writes out-hillstrom/uplift_metrics.csv
    /work/venvs/uplift/bin/python scripts/uplift_peers.py ../shared/data/hillstrom.csv out-hillstrom

Prints (1) the normalised Qini (scikit-uplift's `qini_auc_score`) of causalml's X-learner with
xgboost base learners (100 trees, depth 4) for "Womens E-Mail" vs control on `visit`, trained
on fluz's training rows and scored on fluz's test rows, beside fluz's own figures from
`uplift_metrics.csv`; (2) the wall time of causalml's T- and X-learners for both arms and both
outcomes (the same work as fluz's T and X learners), median of `--runs` runs.
"""

import argparse
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

from causalml.inference.meta import BaseTRegressor, BaseXRegressor  # noqa: E402
from sklift.metrics import qini_auc_score  # noqa: E402
from xgboost import XGBRegressor  # noqa: E402

CONTROL = "No E-Mail"
ARMS = ["Mens E-Mail", "Womens E-Mail"]


def features(frame):
    x = frame[["recency", "history", "mens", "womens", "newbie"]].astype(float)
    for column in ["zip_code", "channel"]:
        for level in sorted(frame[column].unique()):
            x[f"{column}={level}"] = (frame[column] == level).astype(float)
    return x.to_numpy()


def base(threads):
    return XGBRegressor(n_estimators=100, max_depth=4, learning_rate=0.1, n_jobs=threads, verbosity=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("hillstrom")
    parser.add_argument("out_dir")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    frame = pd.read_csv(args.hillstrom)
    frame["customer_id"] = np.arange(1, len(frame) + 1)
    split = pd.read_csv(f"{args.out_dir}/uplift_split.csv")
    frame = frame.merge(split, on="customer_id", how="left", validate="one_to_one")
    assert frame["split"].notna().all()
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    test = frame[frame["split"] == "test"].reset_index(drop=True)
    x_train, x_test = features(train), features(test)
    shares = frame["segment"].value_counts(normalize=True)

    def propensity(rows):
        return {arm: np.full(rows, shares[arm] / (shares[arm] + shares[CONTROL])) for arm in ARMS}

    # (1) Qini of the X-learner, Womens E-Mail vs control, visit.
    x_learner = BaseXRegressor(learner=base(args.threads), control_name=CONTROL)
    x_learner.fit(x_train, train["segment"].to_numpy(), train["visit"].to_numpy(), p=propensity(len(train)))
    effects = x_learner.predict(x_test, p=propensity(len(test)))
    groups = list(x_learner.t_groups)
    womens = effects[:, groups.index("Womens E-Mail")]
    rows = test["segment"].isin(["Womens E-Mail", CONTROL]).to_numpy()
    qini = qini_auc_score(
        test.loc[rows, "visit"].to_numpy(),
        womens[rows],
        (test.loc[rows, "segment"] == "Womens E-Mail").astype(int).to_numpy(),
    )
    print(f"causalml 0.18 X-learner (xgboost 100 trees, depth 4): Qini Womens E-Mail vs control, visit = {qini:.4f}")
    print(f"  train rows {len(train)}, test rows {len(test)} ({rows.sum()} Womens or control)")
    metrics = pd.read_csv(f"{args.out_dir}/uplift_metrics.csv")
    mine = metrics[(metrics["outcome"] == "visit") & (metrics["arm"] == "Womens E-Mail") & metrics["qini"].notna()]
    for _, row in mine.iterrows():
        print(f"fluz {row['learner']:<12} Qini Womens E-Mail vs control, visit = {row['qini']:.4f}")

    # (2) Speed: T and X learners, both arms, both outcomes.
    times = []
    cpu = []
    for _ in range(args.runs):
        started = time.perf_counter()
        cpu_started = time.process_time()
        for outcome in ["visit", "spend"]:
            y = train[outcome].to_numpy()
            t = train["segment"].to_numpy()
            for learner in [BaseTRegressor(learner=base(args.threads), control_name=CONTROL),
                            BaseXRegressor(learner=base(args.threads), control_name=CONTROL)]:
                if isinstance(learner, BaseXRegressor):
                    learner.fit(x_train, t, y, p=propensity(len(train)))
                    learner.predict(x_test, p=propensity(len(test)))
                else:
                    learner.fit(x_train, t, y)
                    learner.predict(x_test)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    print(f"causalml T + X learners, 2 arms × 2 outcomes: median wall {np.median(times):.2f} s {[round(v, 2) for v in times]}, "
          f"median CPU {np.median(cpu):.2f} s {[round(v, 2) for v in cpu]} over {args.runs} runs")


if __name__ == "__main__":
    main()
