#!/usr/bin/env python3
"""Writes a synthetic `fluz allocate --values` CSV: N customers x 5 arms (rates 0, 0.02, 0.04,
0.06, 0.08) with the economic model's shape: spend S, response beta, margin m; cost = r S (1 + beta r),
value = S [(1 + beta r)(m - r) - m] plus a little noise, so hulls have dominated and chord-cut arms.

usage: budget_instance.py N OUT.csv [SEED]
"""
import sys

import numpy as np

n = int(sys.argv[1])
out = sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 17
rng = np.random.default_rng(seed)
rates = np.array([0.0, 0.02, 0.04, 0.06, 0.08])
spend = rng.lognormal(mean=5.0, sigma=1.0, size=n)
beta = rng.lognormal(mean=np.log(20.0), sigma=0.5, size=n)
margin = rng.uniform(0.04, 0.17, size=n)
lift = 1.0 + beta[:, None] * rates[None, :]
cost = rates[None, :] * spend[:, None] * lift
value = spend[:, None] * (lift * (margin[:, None] - rates[None, :]) - margin[:, None])
value += rng.normal(0.0, 0.05, size=value.shape) * spend[:, None] * rates[None, :]
value[:, 0] = 0.0
ids = np.repeat(np.arange(100000, 100000 + n), len(rates))
arms = np.tile(np.array(["0", "0.02", "0.04", "0.06", "0.08"]), n)
with open(out, "w") as f:
    f.write("customer_id,arm,cost,value\n")
    chunk = 200000
    for start in range(0, n * len(rates), chunk):
        end = min(start + chunk, n * len(rates))
        c = cost.reshape(-1)[start:end]
        v = value.reshape(-1)[start:end]
        f.write("".join(f"{i},{a},{x:.6f},{y:.6f}\n" for i, a, x, y in zip(ids[start:end], arms[start:end], c, v)))
