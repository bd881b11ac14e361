//! Spending a cashback budget where it earns most: the multiple-choice knapsack "one arm (rate)
//! per customer, maximise Σ value subject to Σ cost ≤ B", solved exactly in its LP relaxation by
//! the greedy over upper concave hulls (Sverdrup et al., arXiv 2306.11979; grf-labs' `maq`).
//!
//! Per customer, the points (cost, value) of its arms plus the implicit zero arm (0, 0) are cut
//! down to the upper concave hull that starts at the best zero-cost point: dominated arms (no
//! more value for more cost) and arms below a chord go. Each hull edge is a *segment*: moving
//! that customer one arm up buys Δvalue for Δcost. All customers' segments are taken in
//! decreasing Δvalue/Δcost (ties: lower customer index, then the customer's earlier segment),
//! so one sort gives the LP optimum at every budget — the whole value-vs-budget curve — and the
//! segment the budget ends inside is the LP's only fractional customer. The integer allocation
//! keeps that customer on its previous arm, so it never overspends and loses at most that
//! segment's Δvalue. λ, the return of that marginal segment, is the budget's shadow price and
//! the dual rule for later customers: give the arm maximising `value − λ·cost` ([`dual_arm`]).
//!
//! The allocator knows nothing of stores, config or where the numbers came from: [`sources`]
//! turns the inputs (a values file, the offer test's tables, the economic model) into its rows,
//! [`plan`] picks the budget (and run-all's source) and solves, and [`tables`] reads its plan
//! as the output tables.

pub(crate) mod comparison;
pub(crate) mod from_model;
pub(crate) mod heldout;
pub(crate) mod plan;
pub(crate) mod sources;
pub(crate) mod tables;

use rayon::prelude::*;

/// Arm index of the implicit zero arm (cost 0, value 0) every customer has.
pub(crate) const ZERO_ARM: u32 = u32::MAX;

/// Per (customer, arm) rows: dense customer index, arm index, expected cost and value.
#[derive(Clone, Copy, Debug)]
pub struct Offers<'a> {
    pub customer: &'a [u32],
    pub arm: &'a [u32],
    pub cost: &'a [f64],
    pub value: &'a [f64],
}

/// What to solve.
#[derive(Clone, Debug)]
pub struct BudgetParams {
    /// Customers are `0..n_customers` (one without rows stays on the zero arm).
    pub n_customers: usize,
    /// Arms are `0..n_arms`.
    pub n_arms: usize,
    /// How much to spend.
    pub budget: BudgetRule,
    /// At most this many curve points besides the first and last (breakpoints are kept
    /// evenly spread both in cost and in value; every kept point is an exact breakpoint).
    pub max_curve_points: usize,
}

/// The budget B.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BudgetRule {
    /// An amount (≥ 0, finite).
    Amount(f64),
    /// The cost of giving every customer this arm (every customer must have it).
    FlatPolicy(u32),
}

/// Bad input, with the 0-based row of `Offers` it was found in.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    #[error("there are no rows to allocate")]
    Empty,
    #[error("row {row}, column {column}: {message}")]
    Row {
        row: usize,
        column: &'static str,
        message: String,
    },
    #[error("row {row}, column arm: the same customer and arm as row {first} (one row per customer and arm)")]
    Duplicate { row: usize, first: usize },
    #[error("budget must be a finite number >= 0, got {0}")]
    Budget(f64),
    #[error("the flat policy of arm {arm} has no price: only {with} of the {customers} customers have that arm")]
    FlatIncomplete {
        arm: u32,
        with: usize,
        customers: usize,
    },
}

/// The LP's one fractional customer at the chosen budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Fractional {
    pub customer: u32,
    pub from_arm: u32,
    pub to_arm: u32,
    /// Share of the segment the LP takes, in [0, 1).
    pub fraction: f64,
    /// The whole segment's Δvalue (the most the integer allocation can lose).
    pub segment_value: f64,
}

/// One customer's arm in the integer allocation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    pub arm: u32,
    pub cost: f64,
    pub value: f64,
}

/// A breakpoint of the value-vs-budget curve (the LP optimum there is also integer).
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    pub budget: f64,
    pub value: f64,
    pub cost: f64,
    /// Return of the next unit of budget (the next segment's Δvalue/Δcost; 0 past the end).
    pub lambda: f64,
    /// Customers per arm, `n_arms + 1` entries; the last is the implicit zero arm.
    pub customers: Vec<u64>,
}

/// Every customer on one arm, and what the targeted allocation earns at the same cost.
#[derive(Clone, Debug, PartialEq)]
pub struct FlatPolicy {
    pub arm: u32,
    pub cost: f64,
    pub value: f64,
    /// LP optimum at budget = `cost`.
    pub targeted_lp_value: f64,
    /// Integer allocation's value at budget = `cost` (fractional customer left on its arm).
    pub targeted_value: f64,
}

/// The solution at the chosen budget, the curve and the flat-policy comparisons.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetPlan {
    pub budget: f64,
    /// Cost of taking every positive-return segment: spending more earns nothing.
    pub spend_cap: f64,
    /// The budget is above `spend_cap`: only `spend_cap` is spent.
    pub capped: bool,
    /// Value with no budget (the zero-cost arms).
    pub base_value: f64,
    pub lp_value: f64,
    pub lp_cost: f64,
    pub integer_value: f64,
    pub integer_cost: f64,
    /// `lp_value − integer_value` (≤ the fractional segment's value).
    pub gap: f64,
    /// Shadow price of the budget at B.
    pub lambda: f64,
    pub fractional: Option<Fractional>,
    /// Per customer, the integer allocation.
    pub allocation: Vec<Choice>,
    pub curve: Vec<CurvePoint>,
    /// One entry per arm that every customer has, in arm order.
    pub flat: Vec<FlatPolicy>,
    /// Number of hull segments over all customers.
    pub segments: usize,
}

/// The arm (index into `arms`, or `None` for the zero arm) maximising `value − λ·cost`: the
/// LP's dual rule for a customer who arrives after the budget was solved (no re-solve needed;
/// ties go to the cheaper arm, then the zero arm).
#[cfg(test)]
pub(crate) fn dual_arm(arms: &[(f64, f64)], lambda: f64) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut best_score = 0.0;
    let mut best_cost = 0.0;
    for (i, &(cost, value)) in arms.iter().enumerate() {
        let score = value - lambda * cost;
        if score > best_score || (score == best_score && best.is_some() && cost < best_cost) {
            best = Some(i);
            best_score = score;
            best_cost = cost;
        }
    }
    best
}

/// One hull edge: moving `customer` from `from_arm` to `to_arm` buys `value` for `cost`.
/// Kept as one record so that the sort moves the data and the sweep reads it in order.
#[derive(Clone, Copy, Debug)]
struct Segment {
    /// `!slope.to_bits()`: slopes are > 0 (or +0.0), so their bit patterns order like the
    /// numbers, and `!` turns descending into ascending.
    key: u64,
    customer: u32,
    from_arm: u32,
    to_arm: u32,
    cost: f64,
    value: f64,
}

impl Segment {
    fn slope(&self) -> f64 {
        f64::from_bits(!self.key)
    }
}

fn check_rows(offers: &Offers, params: &BudgetParams) -> Result<(), BudgetError> {
    let n = offers.customer.len();
    assert!(
        offers.arm.len() == n && offers.cost.len() == n && offers.value.len() == n,
        "offers columns of unequal length"
    );
    match params.budget {
        BudgetRule::Amount(budget) if !(budget.is_finite() && budget >= 0.0) => {
            return Err(BudgetError::Budget(budget));
        }
        BudgetRule::FlatPolicy(arm) if arm as usize >= params.n_arms => {
            return Err(BudgetError::FlatIncomplete {
                arm,
                with: 0,
                customers: params.n_customers,
            });
        }
        _ => {}
    }
    if n == 0 || params.n_customers == 0 {
        return Err(BudgetError::Empty);
    }
    for row in 0..n {
        let bad = |column, message: String| BudgetError::Row {
            row,
            column,
            message,
        };
        if offers.customer[row] as usize >= params.n_customers {
            return Err(bad(
                "customer_id",
                format!("customer index {} out of range", offers.customer[row]),
            ));
        }
        if offers.arm[row] as usize >= params.n_arms {
            return Err(bad(
                "arm",
                format!("arm index {} out of range", offers.arm[row]),
            ));
        }
        let cost = offers.cost[row];
        if !cost.is_finite() {
            return Err(bad("cost", format!("must be a finite number, got {cost}")));
        }
        if cost < 0.0 {
            return Err(bad("cost", format!("must be >= 0, got {cost}")));
        }
        let value = offers.value[row];
        if !value.is_finite() {
            return Err(bad(
                "value",
                format!("must be a finite number, got {value}"),
            ));
        }
    }
    Ok(())
}

/// Row indices grouped by customer (stable: input order within a customer) and the offsets
/// of each customer's group; a repeated (customer, arm) is an error naming both rows.
fn group_by_customer(
    offers: &Offers,
    params: &BudgetParams,
) -> Result<(Vec<u32>, Vec<u32>), BudgetError> {
    let n_customers = params.n_customers;
    let mut offsets = vec![0u32; n_customers + 1];
    for &c in offers.customer {
        offsets[c as usize + 1] += 1;
    }
    for c in 0..n_customers {
        offsets[c + 1] += offsets[c];
    }
    let mut next = offsets.clone();
    let mut order = vec![0u32; offers.customer.len()];
    for (row, &c) in offers.customer.iter().enumerate() {
        order[next[c as usize] as usize] = row as u32;
        next[c as usize] += 1;
    }
    // `seen[arm]` = (customer + 1, row) of the last row with that arm.
    let mut seen = vec![(0u32, 0u32); params.n_arms];
    for c in 0..n_customers {
        for &row in &order[offsets[c] as usize..offsets[c + 1] as usize] {
            let arm = offers.arm[row as usize] as usize;
            if seen[arm].0 == c as u32 + 1 {
                return Err(BudgetError::Duplicate {
                    row: row as usize,
                    first: seen[arm].1 as usize,
                });
            }
            seen[arm] = (c as u32 + 1, row);
        }
    }
    Ok((order, offsets))
}

/// One customer's hull segments, appended to `out`; returns the start arm and its value.
/// `points` is scratch space.
fn customer_hull(
    customer: u32,
    rows: &[u32],
    offers: &Offers,
    points: &mut Vec<(f64, f64, u32)>,
    hull: &mut Vec<(f64, f64, u32)>,
    slopes: &mut Vec<f64>,
    out: &mut Vec<Segment>,
) -> (u32, f64) {
    points.clear();
    points.push((0.0, 0.0, ZERO_ARM));
    for &row in rows {
        let row = row as usize;
        // `+ 0.0` turns a cost of −0.0 into +0.0, which must not sort before the zero arm.
        points.push((offers.cost[row] + 0.0, offers.value[row], offers.arm[row]));
    }
    // Cost ascending, value descending, explicit arms before the implicit one: the first point
    // is the best zero-cost point (costs are >= 0 and the zero arm costs 0).
    points.sort_unstable_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(b.1.total_cmp(&a.1))
            .then(a.2.cmp(&b.2))
    });
    hull.clear();
    slopes.clear();
    hull.push(points[0]);
    for &p in &points[1..] {
        // Dominated: no more value than a cheaper (or equally cheap) kept point.
        if p.1 <= hull[hull.len() - 1].1 {
            continue;
        }
        // Pop vertices that are not strictly above the chord. The test compares the very
        // slopes used as sort keys, so a customer's kept slopes strictly decrease *as
        // computed* and the global sort can never put a customer's later segment first.
        loop {
            let last = hull[hull.len() - 1];
            let slope = (p.1 - last.1) / (p.0 - last.0);
            match slopes.last() {
                Some(&previous) if previous <= slope => {
                    hull.pop();
                    slopes.pop();
                }
                _ => {
                    hull.push(p);
                    slopes.push(slope);
                    break;
                }
            }
        }
    }
    for k in 1..hull.len() {
        let (from, to) = (hull[k - 1], hull[k]);
        out.push(Segment {
            key: !slopes[k - 1].to_bits(),
            customer,
            from_arm: from.2,
            to_arm: to.2,
            cost: to.0 - from.0,
            value: to.1 - from.1,
        });
    }
    (hull[0].2, hull[0].1)
}

/// Builds every customer's hull, in parallel over blocks of customers (the result is the same
/// as a sequential pass: blocks are concatenated in customer order).
fn build_segments(
    offers: &Offers,
    order: &[u32],
    offsets: &[u32],
    n_customers: usize,
) -> (Vec<Segment>, Vec<u32>, f64) {
    const BLOCK: usize = 16_384;
    let blocks: Vec<(Vec<Segment>, Vec<u32>, f64)> = (0..n_customers.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let start = b * BLOCK;
            let end = ((b + 1) * BLOCK).min(n_customers);
            let rows = (offsets[end] - offsets[start]) as usize;
            let mut out = Vec::with_capacity(rows);
            let mut start_arm = Vec::with_capacity(end - start);
            let mut base = 0.0;
            let (mut points, mut hull, mut slopes) = (Vec::new(), Vec::new(), Vec::new());
            for c in start..end {
                let rows = &order[offsets[c] as usize..offsets[c + 1] as usize];
                let (arm, value) = customer_hull(
                    c as u32,
                    rows,
                    offers,
                    &mut points,
                    &mut hull,
                    &mut slopes,
                    &mut out,
                );
                start_arm.push(arm);
                base += value;
            }
            (out, start_arm, base)
        })
        .collect();
    let total: usize = blocks.iter().map(|b| b.0.len()).sum();
    let mut segments = Vec::with_capacity(total);
    let mut start_arm = Vec::with_capacity(n_customers);
    let mut base_value = 0.0;
    for (mut out, arms, base) in blocks {
        segments.append(&mut out);
        start_arm.extend_from_slice(&arms);
        base_value += base;
    }
    (segments, start_arm, base_value)
}

/// Sorts segments into decreasing return; ties by customer (a customer's own segments never
/// tie: their computed slopes strictly decrease, so they stay in hull order).
fn greedy_sort(segments: &mut [Segment]) {
    segments.par_sort_unstable_by(|a, b| a.key.cmp(&b.key).then(a.customer.cmp(&b.customer)));
}

/// Where a budget falls in the greedy order.
#[derive(Clone, Copy, Debug)]
struct Cut {
    /// Segments fully taken.
    taken: usize,
    cost: f64,
    value: f64,
    /// Share of segment `taken` the LP takes (0 when none remains).
    fraction: f64,
}

/// Solves the LP relaxation and the integer allocation at `params.budget`, the whole curve and
/// the flat policies' comparisons.
pub fn allocate(offers: &Offers, params: &BudgetParams) -> Result<BudgetPlan, BudgetError> {
    check_rows(offers, params)?;
    let (order, offsets) = group_by_customer(offers, params)?;
    let n_customers = params.n_customers;
    let n_arms = params.n_arms;
    let (mut greedy, start_arm, base_value) = build_segments(offers, &order, &offsets, n_customers);
    greedy_sort(&mut greedy);
    let n_segments = greedy.len();

    let mut spend_cap = 0.0;
    let mut value_cap = 0.0;
    for segment in &greedy {
        spend_cap += segment.cost;
        value_cap += segment.value;
    }

    // Flat policies: arms every customer has.
    let mut arm_rows = vec![0usize; n_arms];
    let mut arm_cost = vec![0.0; n_arms];
    let mut arm_value = vec![0.0; n_arms];
    for row in 0..offers.arm.len() {
        let arm = offers.arm[row] as usize;
        arm_rows[arm] += 1;
        arm_cost[arm] += offers.cost[row];
        arm_value[arm] += offers.value[row];
    }
    let flat_arms: Vec<u32> = (0..n_arms as u32)
        .filter(|&a| arm_rows[a as usize] == n_customers)
        .collect();
    let budget = match params.budget {
        BudgetRule::Amount(budget) => budget,
        BudgetRule::FlatPolicy(arm) if arm_rows[arm as usize] == n_customers => {
            arm_cost[arm as usize]
        }
        BudgetRule::FlatPolicy(arm) => {
            return Err(BudgetError::FlatIncomplete {
                arm,
                with: arm_rows[arm as usize],
                customers: n_customers,
            })
        }
    };

    // Budgets to locate in one sweep: the chosen one and each flat policy's cost.
    let mut queries: Vec<(f64, usize)> = std::iter::once(budget)
        .chain(flat_arms.iter().map(|&a| arm_cost[a as usize]))
        .enumerate()
        .map(|(i, b)| (b, i))
        .collect();
    queries.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut cuts = vec![
        Cut {
            taken: n_segments,
            cost: spend_cap,
            value: base_value + value_cap,
            fraction: 0.0,
        };
        queries.len()
    ];
    let mut next_query = 0;

    // Curve thinning targets: a point whenever the cumulative cost or value passes the next
    // of `half` evenly spaced levels.
    let keep_all = n_segments < params.max_curve_points;
    let half = (params.max_curve_points / 2).max(1);
    let step = |total: f64| {
        let step = total / half as f64;
        if step > 0.0 {
            step
        } else {
            f64::INFINITY
        }
    };
    let (cost_step, value_step) = (step(spend_cap), step(value_cap));
    let (mut next_cost, mut next_value) = (cost_step, value_step);

    let mut counts = vec![0u64; n_arms + 1];
    let slot = |arm: u32| {
        if arm == ZERO_ARM {
            n_arms
        } else {
            arm as usize
        }
    };
    for &arm in &start_arm {
        counts[slot(arm)] += 1;
    }
    let mut arm_of = start_arm;
    let lambda_at = |k: usize| {
        if k < n_segments {
            greedy[k].slope()
        } else {
            0.0
        }
    };
    let mut curve = vec![CurvePoint {
        budget: 0.0,
        value: base_value,
        cost: 0.0,
        lambda: lambda_at(0),
        customers: counts.clone(),
    }];
    let mut cost = 0.0;
    let mut gain = 0.0;
    let mut budget_reached = false;
    for (k, segment) in greedy.iter().enumerate() {
        let (dc, dv) = (segment.cost, segment.value);
        while next_query < queries.len() && cost + dc > queries[next_query].0 {
            let (budget, index) = queries[next_query];
            cuts[index] = Cut {
                taken: k,
                cost,
                value: base_value + gain,
                fraction: ((budget - cost) / dc).clamp(0.0, 1.0),
            };
            if index == 0 {
                budget_reached = true;
            }
            next_query += 1;
        }
        if !budget_reached {
            arm_of[segment.customer as usize] = segment.to_arm;
        }
        counts[slot(segment.from_arm)] -= 1;
        counts[slot(segment.to_arm)] += 1;
        cost += dc;
        gain += dv;
        let last = k + 1 == n_segments;
        if keep_all || cost >= next_cost || gain >= next_value || last {
            curve.push(CurvePoint {
                budget: cost,
                value: base_value + gain,
                cost,
                lambda: lambda_at(k + 1),
                customers: counts.clone(),
            });
            // The next level above the current one (directly: a tiny step would take
            // forever to walk).
            if next_cost <= cost {
                next_cost = ((cost / cost_step).floor() + 1.0) * cost_step;
            }
            if next_value <= gain {
                next_value = ((gain / value_step).floor() + 1.0) * value_step;
            }
        }
    }
    // `cost`/`gain` summed in the same order as `spend_cap`/`value_cap`: equal.
    let capped = budget > spend_cap;
    if capped {
        let last = curve
            .last()
            .cloned()
            .expect("the curve has its first point");
        curve.push(CurvePoint {
            budget,
            lambda: 0.0,
            ..last
        });
    }

    let lp_at = |cut: &Cut| {
        if cut.taken < n_segments {
            cut.value + cut.fraction * greedy[cut.taken].value
        } else {
            cut.value
        }
    };
    let chosen = cuts[0];
    let lp_value = lp_at(&chosen);
    let (lp_cost, fractional) = if chosen.taken < n_segments {
        let segment = &greedy[chosen.taken];
        let fractional = (chosen.fraction > 0.0).then_some(Fractional {
            customer: segment.customer,
            from_arm: segment.from_arm,
            to_arm: segment.to_arm,
            fraction: chosen.fraction,
            segment_value: segment.value,
        });
        (budget, fractional)
    } else {
        (spend_cap, None)
    };
    let flat = flat_arms
        .iter()
        .enumerate()
        .map(|(i, &arm)| FlatPolicy {
            arm,
            cost: arm_cost[arm as usize],
            value: arm_value[arm as usize],
            targeted_lp_value: lp_at(&cuts[i + 1]),
            targeted_value: cuts[i + 1].value,
        })
        .collect();

    // Each customer's chosen arm's own cost and value.
    let allocation: Vec<Choice> = (0..n_customers)
        .into_par_iter()
        .map(|c| {
            let arm = arm_of[c];
            let rows = &order[offsets[c] as usize..offsets[c + 1] as usize];
            match rows.iter().find(|&&r| offers.arm[r as usize] == arm) {
                Some(&r) => Choice {
                    arm,
                    cost: offers.cost[r as usize],
                    value: offers.value[r as usize],
                },
                None => Choice {
                    arm: ZERO_ARM,
                    cost: 0.0,
                    value: 0.0,
                },
            }
        })
        .collect();
    Ok(BudgetPlan {
        budget,
        spend_cap,
        capped,
        base_value,
        lp_value,
        lp_cost,
        integer_value: chosen.value,
        integer_cost: chosen.cost,
        gap: lp_value - chosen.value,
        lambda: lambda_at(chosen.taken),
        fractional,
        allocation,
        curve,
        flat,
        segments: n_segments,
    })
}

#[cfg(test)]
mod tests;
