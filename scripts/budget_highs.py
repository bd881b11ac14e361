#!/usr/bin/env python3
"""Solves the LP relaxation of `fluz allocate` with HiGHS (highspy) on a values CSV, for the
side-by-side figure in BENCHMARKS.md: x[row] in [0, 1], sum of a customer's x <= 1 (the slack
is the zero arm), sum cost x <= B, maximise sum value x.

usage: budget_highs.py VALUES.csv BUDGET [simplex|ipm]
Prints the build and solve seconds and the optimum (compare with budget_summary.lp_value).
"""
import sys
import time

import highspy
import numpy as np

path, budget = sys.argv[1], float(sys.argv[2])
solver = sys.argv[3] if len(sys.argv) > 3 else "simplex"
t0 = time.perf_counter()
data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 2, 3))
ids = data[:, 0].astype(np.int64)
cost = data[:, 1]
value = data[:, 2]
_, customer = np.unique(ids, return_inverse=True)
n_rows = len(cost)
n_customers = customer.max() + 1
t1 = time.perf_counter()
h = highspy.Highs()
h.setOptionValue("output_flag", False)
h.setOptionValue("solver", solver)
inf = highspy.kHighsInf
lp = highspy.HighsLp()
lp.num_col_ = n_rows
lp.num_row_ = n_customers + 1
lp.col_cost_ = value
lp.col_lower_ = np.zeros(n_rows)
lp.col_upper_ = np.ones(n_rows)
lp.row_lower_ = np.full(n_customers + 1, -inf)
lp.row_upper_ = np.concatenate([np.ones(n_customers), [budget]])
# Column-wise: column j has a 1 in its customer's row and its cost in the budget row.
starts = np.arange(0, 2 * n_rows + 1, 2, dtype=np.int32)
index = np.empty(2 * n_rows, dtype=np.int32)
index[0::2] = customer
index[1::2] = n_customers
values = np.empty(2 * n_rows)
values[0::2] = 1.0
values[1::2] = cost
lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
lp.a_matrix_.start_ = starts
lp.a_matrix_.index_ = index
lp.a_matrix_.value_ = values
lp.sense_ = highspy.ObjSense.kMaximize
h.passModel(lp)
t2 = time.perf_counter()
h.run()
t3 = time.perf_counter()
print(f"rows {n_rows} customers {n_customers} budget {budget}")
print(f"read {t1 - t0:.2f}s build {t2 - t1:.2f}s solve ({solver}) {t3 - t2:.2f}s")
print(f"status {h.modelStatusToString(h.getModelStatus())} optimum {h.getInfo().objective_function_value:.6f}")
