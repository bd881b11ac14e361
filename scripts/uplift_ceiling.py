#!/usr/bin/env python3
"""The feature ceiling of a simulated offer test: the best true value ANY policy that sees the
customers' features (but not the hidden noise sigma * eps_i) can reach, beside fluz's own
figures from `uplift_metrics`.

Outside the project (a venv with numpy, pandas and pyarrow, Python >= 3.11), after a run on a
parquet store (`run-all`, or `simulate-offers` + `uplift` after `train`):

    python3 -m venv /work/ceil/venv && /work/ceil/venv/bin/pip install numpy pandas pyarrow
    fluz generate --customers 44000 --out /work/ceil/gen44k
    fluz --config /work/ceil/gen44.toml run-all  # [data]: gen44k; [offers] baseline = "total_spent"
    /work/ceil/venv/bin/python scripts/uplift_ceiling.py --config /work/ceil/gen44.toml

(`--store DIR` overrides the config's `[store] path`; the config gives the economic model's
parameters, `[linkage] seed`, `[offers] test_percent` and `window_days`, with fluz's defaults
for missing keys.) Reads `offers_truth`, `offers`, `customer_features`, `cashback_predictions`,
`uplift_predictions` (the split, checked against the hash) and `uplift_metrics` (fluz's figures,
which the script reproduces for the single arms, the oracle and the oracle-label regression).

Why this is the ceiling. In the simulation (src/models/economics.rs, src/uplift/simulate.rs)
customer i has

    ln beta_i = ln beta0 + a_price z_price + a_freq z_freq + a_recency z_recency
                + a_social z_social + sigma eps_i,     eps_i ~ N(0, 1) from a seeded hash,

and under arm a (rate r_a) the expected spend is b_i (1 + beta_i r_a) with
b_i = n_invoices * W/365 * avg_basket_value, the expected profit (m_i - r_a) * spend. Everything
but eps_i is a function of the features (the z-scores are population z-scores of features), and
the profit is linear in beta_i, so the policy maximising expected true value given the features
gives each customer the arm maximising (m_i - r_a) b_i (1 + E[beta_i | x] r_a), with
E[beta_i | x] = beta_feat_i * exp(sigma^2 / 2), beta_feat_i = beta_i * exp(-sigma eps_i). No
policy of the features has a higher expected value. The script recovers eps_i with fluz's hash
(FNV-1a 64 of "eps1:{seed}:{id}" and "eps2:{seed}:{id}", Box-Muller) and checks beta_feat
against the z-scores recomputed from `customer_features`.

True value and regret are fluz's (src/uplift/mod.rs): the mean over customers of the truth's
`expected_profit` of the arm a policy gives, and regret_pct = 100 (oracle - value) / oracle,
oracle = mean of each customer's best arm's expected profit. fluz reports them on the held-out
customers (`h("split", linkage seed, c) mod 100 < [offers] test_percent`); the script also
gives them over all customers of the test.
"""

import argparse
import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from fluzhash import fnv1a64

# fluz's defaults (config.toml) for the keys the script needs.
DEFAULTS = {
    "store": {"path": "warehouse"},
    "linkage": {"seed": 42},
    "economics": {
        "beta0": 20.0,
        "a_price": -0.25,
        "a_freq": -0.20,
        "a_recency": 0.15,
        "a_social": 0.10,
        "sigma": 0.25,
    },
    "offers": {"test_percent": 30, "spend_outcome": "spend", "window_days": 90.0},
}


def h_customer(ns: str, seed: int, customer_id: int) -> int:
    return fnv1a64(f"{ns}:{seed}:{customer_id}".encode())


def epsilon(seed: int, customer_id: int) -> float:
    """fluz's `economics::epsilon`."""

    def uniform(ns: str) -> float:
        return ((h_customer(ns, seed, customer_id) >> 11) + 0.5) / float(1 << 53)

    u1, u2 = uniform("eps1"), uniform("eps2")
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def clipped_z(values: np.ndarray) -> np.ndarray:
    """fluz's `clipped_z`: population z-scores (ddof = 0) clipped to [-3, 3]."""
    mean = values.sum() / len(values)
    std = math.sqrt(((values - mean) ** 2).sum() / len(values))
    if std == 0.0 or not math.isfinite(std):
        return np.zeros_like(values)
    return np.clip((values - mean) / std, -3.0, 3.0)


def settings(config_path: Path) -> dict:
    with open(config_path, "rb") as f:
        config = tomllib.load(f)
    out = {}
    for section, keys in DEFAULTS.items():
        out[section] = {k: config.get(section, {}).get(k, v) for k, v in keys.items()}
    return out


def read(store: Path, table: str) -> pd.DataFrame:
    path = store / f"{table}.parquet"
    if not path.exists():
        sys.exit(f"{path}: no such table (run fluz run-all first)")
    return pd.read_parquet(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--store", type=Path, help="parquet store (default: the config's)")
    args = parser.parse_args()
    cfg = settings(args.config)
    store = args.store or (args.config.parent / cfg["store"]["path"])
    econ = cfg["economics"]
    seed = int(cfg["linkage"]["seed"])
    sigma = float(econ["sigma"])

    truth = read(store, "offers_truth")
    metrics = read(store, "uplift_metrics")
    features = read(store, "customer_features")
    offers = read(store, "offers")

    # Arms in the test's order (the truth is customer-major, arm-minor).
    arm_names = list(dict.fromkeys(truth["arm"]))
    k = len(arm_names)
    rates = truth.drop_duplicates("arm").set_index("arm").loc[arm_names, "rate"].to_numpy()
    ids = truth["customer_id"].to_numpy()[::k]
    assert (truth["arm"].to_numpy().reshape(-1, k) == np.array(arm_names)).all()
    assert (truth["customer_id"].to_numpy().reshape(-1, k) == ids[:, None]).all()
    n = len(ids)

    def per_arm(column: str) -> np.ndarray:  # [customer, arm]
        return truth[column].to_numpy(dtype=float).reshape(n, k)

    profit = per_arm("expected_profit")
    spend = per_arm("expected_spend")
    beta = per_arm("beta")[:, 0]
    margin = per_arm("margin")[:, 0]

    # In the log's order (fluz averages in that order).
    log_ids = offers["customer_id"].to_numpy()
    order = pd.Series(np.arange(n), index=ids).loc[log_ids].to_numpy()
    ids, profit, spend, beta, margin = (v[order] for v in (ids, profit, spend, beta, margin))

    # beta_feat two ways: beta / exp(sigma eps) with fluz's eps, and from the z-scores.
    eps = np.array([epsilon(seed, int(c)) for c in ids])
    beta_feat = beta * np.exp(-sigma * eps)
    f = features.set_index("customer_id").loc[ids]
    ln_beta_z = (
        math.log(econ["beta0"])
        + econ["a_price"] * clipped_z(np.log(features["avg_item_price"].to_numpy(float)))
        + econ["a_freq"] * clipped_z(np.log(features["n_invoices"].to_numpy(float)))
        + econ["a_recency"] * clipped_z(features["recency_days"].to_numpy(float))
        + econ["a_social"] * clipped_z(np.log1p(features["social_degree"].to_numpy(float)))
    )
    ln_beta_z = pd.Series(ln_beta_z, index=features["customer_id"]).loc[ids].to_numpy()
    check = np.max(np.abs(np.log(beta_feat) - ln_beta_z))
    if check > 1e-9:
        sys.exit(f"beta_feat from eps and from the z-scores differ by {check:.3g} in ln beta")
    # The spend without cashback, b_i, from the truth (any arm: spend = b (1 + beta r)).
    base = spend / (1.0 + beta[:, None] * rates[None, :])
    base_check = np.max(np.abs(base - base[:, :1]) / np.maximum(base[:, :1], 1e-300))
    b = base[:, 0]
    expected_b = (
        f["n_invoices"].to_numpy(float)
        * cfg["offers"]["window_days"]
        / 365.0
        * f["avg_basket_value"].to_numpy(float)
    )
    check_b = np.max(np.abs(b - expected_b) / np.maximum(expected_b, 1e-300))
    # The truth's profit is (m - r) * spend: check, so the ceiling is scored like the truth.
    profit_check = np.max(np.abs(profit - (margin[:, None] - rates[None, :]) * spend))

    def greedy(values: np.ndarray) -> np.ndarray:
        return np.argmax(values, axis=1)  # the first maximum, like fluz's `greedy`

    def predicted(beta_hat: np.ndarray) -> np.ndarray:
        return (margin[:, None] - rates[None, :]) * b[:, None] * (1 + beta_hat[:, None] * rates)

    bayes = greedy(predicted(beta_feat * math.exp(sigma**2 / 2)))
    plug_in = greedy(predicted(beta_feat))  # the median of beta | x instead of its mean
    oracle = greedy(profit)
    # Today's oracle-label regression: its tier snapped to the nearest arm (ties: lower arm).
    tiers = read(store, "cashback_predictions").set_index("customer_id").loc[ids, "tier"]
    today = np.array([int(np.argmin(np.abs(rates - t))) for t in tiers.to_numpy(float)])

    test = np.array(
        [h_customer("split", seed, int(c)) % 100 < cfg["offers"]["test_percent"] for c in ids]
    )
    pred = read(store, "uplift_predictions")
    pred_split = pred.drop_duplicates("customer_id").set_index("customer_id").loc[ids, "split"]
    assert (test == (pred_split.to_numpy() == "test")).all(), "split differs from fluz's"

    def value(policy: np.ndarray, rows: np.ndarray) -> float:
        # fluz's `policy::mean`: a left-to-right sum over the rows in the log's order.
        picked = profit[rows, policy[rows]]
        return sum(picked.tolist()) / len(picked)

    fluz = metrics[metrics["outcome"] == cfg["offers"]["spend_outcome"]].set_index("learner")
    rows_all = np.arange(n)
    rows_test = np.flatnonzero(test)
    ceiling = "**feature ceiling: Bayes-optimal, E[beta given x] = beta_feat e^(sigma^2/2)**"
    policies = [
        (f"everyone {name}", np.full(n, a), f"everyone:{name}") for a, name in enumerate(arm_names)
    ]
    policies += [
        ("today's oracle-label regression (tier -> nearest arm)", today, "oracle_label_regression"),
        ("feature plug-in: the median of beta given x (beta_feat)", plug_in, None),
        (ceiling, bayes, None),
        ("oracle (knows beta_i)", oracle, "oracle"),
    ]
    oracle_value = {w: value(oracle, r) for w, r in (("test", rows_test), ("all", rows_all))}

    # The same figures in expectation over eps given the features (no luck of this draw of
    # eps): E[profit_a | x] = (m - r_a) b (1 + E[beta | x] r_a), and the oracle's
    # E[max_a profit_a | x] by Gauss-Hermite quadrature over eps (checked at two orders).
    expected_profit = predicted(beta_feat * math.exp(sigma**2 / 2))

    def expected_oracle(order: int) -> float:
        nodes, weights = np.polynomial.hermite_e.hermegauss(order)
        weights = weights / weights.sum()
        total = np.zeros(n)
        for e, w in zip(nodes, weights):
            total += w * predicted(beta_feat * math.exp(sigma * e)).max(axis=1)
        return sum(total.tolist()) / n

    expected_oracle_value = expected_oracle(301)
    quadrature_check = abs(expected_oracle_value - expected_oracle(151))

    print(
        f"store {store}: {n} customers, {len(rows_test)} held out; "
        f"arms {arm_names}; sigma {sigma}"
    )
    print(
        f"checks: max |ln beta_feat(eps) - ln beta_feat(z)| = {check:.2e}; "
        f"b from every arm agrees to {base_check:.1e} (rel), with n_invoices W/365 basket to "
        f"{check_b:.1e}; truth profit = (m - r) spend to {profit_check:.1e}; "
        f"quadrature (301 vs 151 nodes) {quadrature_check:.1e}"
    )
    best_single = max(range(k), key=lambda a: value(np.full(n, a), rows_test))
    print()
    print(
        "| policy | held-out true value | held-out regret | all: true value | all: regret "
        "| all: expected value given x | all: expected regret "
        "| fluz's held-out value, regret (diff) | customers off the best single arm (all) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    figures = {}
    for label, policy, fluz_name in policies:
        cells = []
        for which, rows in (("test", rows_test), ("all", rows_all)):
            v = value(policy, rows)
            regret = 100.0 * (oracle_value[which] - v) / oracle_value[which]
            figures[(label, which)] = (v, regret)
            cells += [f"{v:.4f}", f"{regret:.4f} %"]
        if fluz_name == "oracle":
            ev = expected_oracle_value
        else:
            ev = sum(expected_profit[rows_all, policy].tolist()) / n
        er = 100.0 * (expected_oracle_value - ev) / expected_oracle_value
        figures[(label, "expected")] = (ev, er)
        cells += [f"{ev:.4f}", f"{er:.4f} %"]
        if fluz_name is not None and fluz_name in fluz.index:
            fv, fr = fluz.loc[fluz_name, ["true_value", "regret_pct"]]
            v, r = figures[(label, "test")]
            cells.append(f"{fv:.4f}, {fr:.4f} % ({max(abs(fv - v), abs(fr - r)):.1e})")
        else:
            cells.append("—")
        cells.append(f"{np.mean(policy != best_single) * 100:.2f} %")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    single = f"everyone {arm_names[best_single]}"
    for which in ("test", "all", "expected"):
        (cv, cr), (sv, sr) = figures[(ceiling, which)], figures[(single, which)]
        line = (
            f"{which}: ceiling - {single} = {cv - sv:+.4f} per customer "
            f"({sr - cr:.4f} points of regret"
        )
        if which != "expected":
            diff = profit[np.arange(n), bayes] - profit[:, best_single]
            rows = rows_test if which == "test" else rows_all
            line += f"; s.e. over customers {diff[rows].std(ddof=1) / math.sqrt(len(rows)):.4f}"
        print(line + ")")


if __name__ == "__main__":
    main()
