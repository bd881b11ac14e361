//! The allocator against an exact LP solver (microlp), brute force on tiny instances, and the
//! curve's shape, on random instances with dominated arms, ties, zero-cost arms, negative
//! values and budgets past the total.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;

/// A random instance as owned columns.
#[derive(Clone, Debug)]
struct Instance {
    n_customers: usize,
    n_arms: usize,
    customer: Vec<u32>,
    arm: Vec<u32>,
    cost: Vec<f64>,
    value: Vec<f64>,
}

impl Instance {
    fn offers(&self) -> Offers<'_> {
        Offers {
            customer: &self.customer,
            arm: &self.arm,
            cost: &self.cost,
            value: &self.value,
        }
    }

    fn params(&self, budget: f64) -> BudgetParams {
        BudgetParams {
            n_customers: self.n_customers,
            n_arms: self.n_arms,
            budget: BudgetRule::Amount(budget),
            max_curve_points: 2000,
        }
    }

    fn total_positive_cost(&self) -> f64 {
        self.cost.iter().sum()
    }
}

/// Costs and values on a coarse grid, so that ties (equal costs, equal values, equal returns
/// across customers, collinear arms) are frequent; some arms cost 0, some lose money, some
/// customers lack some arms, rows come shuffled.
fn random_instance(
    rng: &mut Xoshiro256PlusPlus,
    max_customers: usize,
    max_arms: usize,
) -> Instance {
    let n_customers = rng.gen_range(1..=max_customers);
    let n_arms = rng.gen_range(1..=max_arms);
    let mut rows = Vec::new();
    for c in 0..n_customers {
        for a in 0..n_arms {
            if rng.gen_bool(0.15) {
                continue;
            }
            let cost = match rng.gen_range(0..6) {
                0 => 0.0,
                _ => rng.gen_range(0..8) as f64 * 0.5,
            };
            let value = match rng.gen_range(0..5) {
                0 => -(rng.gen_range(0..5) as f64),
                _ => rng.gen_range(0..10) as f64 * 0.75,
            };
            rows.push((c as u32, a as u32, cost, value));
        }
    }
    if rows.is_empty() {
        rows.push((0, 0, 1.0, 1.0));
    }
    // Fisher–Yates with the test's seed.
    for i in (1..rows.len()).rev() {
        let j = rng.gen_range(0..=i);
        rows.swap(i, j);
    }
    Instance {
        n_customers,
        n_arms,
        customer: rows.iter().map(|r| r.0).collect(),
        arm: rows.iter().map(|r| r.1).collect(),
        cost: rows.iter().map(|r| r.2).collect(),
        value: rows.iter().map(|r| r.3).collect(),
    }
}

/// The LP relaxation solved by a general simplex: x ∈ [0, 1] per row, Σ_a x ≤ 1 per
/// customer (the slack is the zero arm), Σ cost·x ≤ B.
fn lp_optimum(instance: &Instance, budget: f64) -> f64 {
    use microlp::{ComparisonOp, OptimizationDirection, Problem};
    let mut problem = Problem::new(OptimizationDirection::Maximize);
    let vars: Vec<_> = instance
        .value
        .iter()
        .map(|&v| problem.add_var(v, (0.0, 1.0)))
        .collect();
    for c in 0..instance.n_customers as u32 {
        let terms: Vec<_> = (0..vars.len())
            .filter(|&r| instance.customer[r] == c)
            .map(|r| (vars[r], 1.0))
            .collect();
        if !terms.is_empty() {
            problem.add_constraint(&terms, ComparisonOp::Le, 1.0);
        }
    }
    let budget_terms: Vec<_> = (0..vars.len())
        .map(|r| (vars[r], instance.cost[r]))
        .collect();
    problem.add_constraint(&budget_terms, ComparisonOp::Le, budget);
    problem
        .solve()
        .expect("the LP is feasible and bounded")
        .objective()
}

/// The best integer allocation by enumeration (every customer: one of its arms or none).
fn brute_force(instance: &Instance, budget: f64) -> f64 {
    let mut options: Vec<Vec<(f64, f64)>> = vec![vec![(0.0, 0.0)]; instance.n_customers];
    for r in 0..instance.customer.len() {
        options[instance.customer[r] as usize].push((instance.cost[r], instance.value[r]));
    }
    fn go(options: &[Vec<(f64, f64)>], budget: f64, cost: f64, value: f64, best: &mut f64) {
        let Some((first, rest)) = options.split_first() else {
            if cost <= budget && value > *best {
                *best = value;
            }
            return;
        };
        for &(c, v) in first {
            if cost + c <= budget + 1e-12 {
                go(rest, budget, cost + c, value + v, best);
            }
        }
    }
    let mut best = f64::NEG_INFINITY;
    go(&options, budget, 0.0, 0.0, &mut best);
    best
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

fn budgets(rng: &mut Xoshiro256PlusPlus, instance: &Instance) -> Vec<f64> {
    let total = instance.total_positive_cost();
    vec![
        0.0,
        rng.gen_range(0.0..=total.max(1.0)),
        rng.gen_range(0.0..=total.max(1.0)),
        (rng.gen_range(0..=(2.0 * total) as usize) as f64) * 0.5,
        total + 1.0,
        10.0 * total + 3.0,
    ]
}

#[test]
fn lp_value_equals_a_simplex_optimum_on_random_instances() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
    let mut checked = 0;
    for _ in 0..400 {
        let instance = random_instance(&mut rng, 12, 6);
        for budget in budgets(&mut rng, &instance) {
            let plan = allocate(&instance.offers(), &instance.params(budget)).unwrap();
            let exact = lp_optimum(&instance, budget);
            assert!(
                close(plan.lp_value, exact, 1e-9),
                "budget {budget}: greedy LP {} vs simplex {exact}\n{instance:?}",
                plan.lp_value
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2400);
}

#[test]
fn integer_allocation_is_feasible_and_within_the_fractional_segment() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(18);
    for _ in 0..500 {
        let instance = random_instance(&mut rng, 30, 6);
        for budget in budgets(&mut rng, &instance) {
            let plan = allocate(&instance.offers(), &instance.params(budget)).unwrap();
            assert!(plan.integer_cost <= budget, "{plan:?}");
            let spent: f64 = plan.allocation.iter().map(|c| c.cost).sum();
            let earned: f64 = plan.allocation.iter().map(|c| c.value).sum();
            assert!(
                spent <= budget * (1.0 + 1e-12) + 1e-12,
                "{spent} > {budget}"
            );
            assert!(close(spent, plan.integer_cost, 1e-12));
            assert!(close(earned, plan.integer_value, 1e-12));
            assert!(plan.integer_value <= plan.lp_value + 1e-9);
            let bound = plan.fractional.as_ref().map_or(0.0, |f| f.segment_value);
            assert!(
                plan.gap <= bound * (1.0 + 1e-12) + 1e-9,
                "gap {} > fractional segment {bound}",
                plan.gap
            );
            // Each customer's arm is one it has (or the zero arm), with its own numbers.
            for (c, choice) in plan.allocation.iter().enumerate() {
                if choice.arm == ZERO_ARM {
                    assert_eq!((choice.cost, choice.value), (0.0, 0.0));
                    continue;
                }
                let row = (0..instance.customer.len())
                    .find(|&r| instance.customer[r] == c as u32 && instance.arm[r] == choice.arm)
                    .expect("the chosen arm is one of the customer's");
                assert_eq!(
                    (choice.cost, choice.value),
                    (instance.cost[row], instance.value[row])
                );
            }
        }
    }
}

#[test]
fn brute_force_bounds_the_integer_gap_on_tiny_instances() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(19);
    for _ in 0..300 {
        let instance = random_instance(&mut rng, 5, 4);
        for budget in budgets(&mut rng, &instance) {
            let plan = allocate(&instance.offers(), &instance.params(budget)).unwrap();
            let best = brute_force(&instance, budget);
            assert!(plan.integer_value <= best + 1e-9, "{plan:?} vs {best}");
            assert!(
                best <= plan.lp_value + 1e-9,
                "integer optimum above the LP bound"
            );
            let bound = plan.fractional.as_ref().map_or(0.0, |f| f.segment_value);
            assert!(
                best - plan.integer_value <= bound + 1e-9,
                "integer optimum {best}, greedy {}, fractional segment {bound}",
                plan.integer_value
            );
        }
    }
}

#[test]
fn curve_is_nondecreasing_concave_with_falling_lambda_and_exact_at_its_points() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20);
    for round in 0..300 {
        let instance = random_instance(&mut rng, 40, 6);
        let total = instance.total_positive_cost();
        let plan = allocate(&instance.offers(), &instance.params(total + 5.0)).unwrap();
        let curve = &plan.curve;
        assert!(curve.len() >= 2);
        assert_eq!(curve[0].budget, 0.0);
        assert!(close(curve[0].value, plan.base_value, 1e-12));
        for w in curve.windows(2) {
            assert!(w[1].budget >= w[0].budget);
            assert!(w[1].cost >= w[0].cost);
            assert!(w[1].value >= w[0].value - 1e-9);
            assert!(w[1].lambda <= w[0].lambda);
        }
        // Concave: the slopes between consecutive distinct points never rise.
        let distinct: Vec<&CurvePoint> = curve
            .iter()
            .filter(|p| p.budget == p.cost)
            .collect::<Vec<_>>();
        let slopes: Vec<f64> = distinct
            .windows(2)
            .filter(|w| w[1].cost > w[0].cost)
            .map(|w| (w[1].value - w[0].value) / (w[1].cost - w[0].cost))
            .collect();
        for w in slopes.windows(2) {
            assert!(w[1] <= w[0] * (1.0 + 1e-9) + 1e-9, "{slopes:?}");
        }
        // Every point's customer counts add up, and the point is the LP optimum there.
        for (i, point) in curve.iter().enumerate() {
            assert_eq!(
                point.customers.iter().sum::<u64>(),
                instance.n_customers as u64
            );
            if round % 10 == 0 && i % 3 == 0 {
                let exact = lp_optimum(&instance, point.budget);
                assert!(
                    close(point.value, exact, 1e-9),
                    "{} vs {exact}",
                    point.value
                );
            }
        }
        // The last point spends what helps, no more.
        let last = curve.last().unwrap();
        assert_eq!(last.budget, total + 5.0);
        assert!(close(last.cost, plan.spend_cap, 1e-12));
        assert_eq!(last.lambda, 0.0);
        assert!(plan.capped);
        assert!(close(plan.lp_value, last.value, 1e-12));
    }
}

#[test]
fn curve_points_at_each_breakpoint_match_the_solution_there() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
    for _ in 0..100 {
        let instance = random_instance(&mut rng, 10, 5);
        let plan = allocate(&instance.offers(), &instance.params(0.0)).unwrap();
        for point in &plan.curve {
            let there = allocate(&instance.offers(), &instance.params(point.budget)).unwrap();
            assert!(close(there.lp_value, point.value, 1e-12));
            // At a breakpoint the LP is integer.
            assert!(close(there.integer_value, point.value, 1e-12));
            assert_eq!(there.lambda, point.lambda);
            let mut counts = vec![0u64; instance.n_arms + 1];
            for choice in &there.allocation {
                let slot = if choice.arm == ZERO_ARM {
                    instance.n_arms
                } else {
                    choice.arm as usize
                };
                counts[slot] += 1;
            }
            assert_eq!(counts, point.customers);
        }
    }
}

#[test]
fn thinned_curve_keeps_at_most_the_asked_points_and_its_ends() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(22);
    let n = 20_000;
    let mut instance = Instance {
        n_customers: n,
        n_arms: 4,
        customer: Vec::new(),
        arm: Vec::new(),
        cost: Vec::new(),
        value: Vec::new(),
    };
    for c in 0..n as u32 {
        for a in 0..4u32 {
            instance.customer.push(c);
            instance.arm.push(a);
            instance.cost.push((a + 1) as f64 * rng.gen_range(0.5..1.5));
            instance
                .value
                .push(rng.gen_range(-1.0..4.0) * (a as f64 + 1.0).sqrt());
        }
    }
    let full = allocate(
        &instance.offers(),
        &BudgetParams {
            max_curve_points: usize::MAX / 4,
            ..instance.params(1e9)
        },
    )
    .unwrap();
    assert_eq!(
        full.curve.len(),
        full.segments + 2,
        "every breakpoint + the cap"
    );
    let thin = allocate(
        &instance.offers(),
        &BudgetParams {
            max_curve_points: 500,
            ..instance.params(1e9)
        },
    )
    .unwrap();
    assert!(thin.curve.len() <= 503, "{}", thin.curve.len());
    assert!(thin.curve.len() >= 250);
    assert_eq!(thin.curve.first(), full.curve.first());
    assert_eq!(thin.curve.last(), full.curve.last());
    // Every kept point is an exact breakpoint of the full curve, and no gap between kept
    // points is wider than 1/250 of the spend or of the value gain (plus one segment).
    for point in &thin.curve {
        assert!(full.curve.contains(point));
    }
    let value_gain = full.curve.last().unwrap().value - full.base_value;
    for w in thin.curve.windows(2) {
        let wide_cost = w[1].cost - w[0].cost > full.spend_cap / 250.0 + 10.0;
        let wide_value = w[1].value - w[0].value > value_gain / 250.0 + 10.0;
        assert!(!(wide_cost && wide_value), "{:?}", w);
    }
}

#[test]
fn same_input_in_another_row_order_gives_the_same_plan() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(23);
    for _ in 0..50 {
        let instance = random_instance(&mut rng, 20, 5);
        let mut reversed = instance.clone();
        reversed.customer.reverse();
        reversed.arm.reverse();
        reversed.cost.reverse();
        reversed.value.reverse();
        let budget = instance.total_positive_cost() / 3.0;
        let a = allocate(&instance.offers(), &instance.params(budget)).unwrap();
        let b = allocate(&reversed.offers(), &reversed.params(budget)).unwrap();
        assert_eq!(a.allocation, b.allocation);
        assert_eq!(a.curve, b.curve);
        assert_eq!(a.fractional, b.fractional);
    }
}

#[test]
fn dual_rule_gives_the_lp_arm_to_every_whole_customer() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(24);
    for _ in 0..300 {
        let instance = random_instance(&mut rng, 15, 5);
        let budget = rng.gen_range(0.0..=instance.total_positive_cost().max(1.0));
        let plan = allocate(&instance.offers(), &instance.params(budget)).unwrap();
        let lambda = plan.lambda;
        for (c, choice) in plan.allocation.iter().enumerate() {
            if plan
                .fractional
                .as_ref()
                .is_some_and(|f| f.customer == c as u32)
            {
                continue;
            }
            let arms: Vec<(f64, f64)> = (0..instance.customer.len())
                .filter(|&r| instance.customer[r] == c as u32)
                .map(|r| (instance.cost[r], instance.value[r]))
                .collect();
            let best = match dual_arm(&arms, lambda) {
                Some(i) => arms[i].1 - lambda * arms[i].0,
                None => 0.0,
            };
            let mine = choice.value - lambda * choice.cost;
            assert!(
                mine >= best - 1e-9,
                "customer {c}: LP arm scores {mine}, the dual rule's {best} (λ = {lambda})"
            );
        }
    }
}

#[test]
fn dual_arm_by_hand() {
    let arms = [(1.0, 3.0), (2.0, 4.5), (3.0, 4.0)];
    assert_eq!(dual_arm(&arms, 2.0), Some(0)); // 1, 0.5, -2
    assert_eq!(dual_arm(&arms, 1.0), Some(1)); // 2, 2.5, 1
    assert_eq!(dual_arm(&arms, 5.0), None); // all negative: the zero arm
    assert_eq!(dual_arm(&arms, 1.5), Some(0)); // 1.5 = 1.5: the cheaper
}

#[test]
fn hull_by_hand() {
    // One customer: arms (cost, value) a0 (1, 1), a1 (2, 3) dominating nothing, a2 (3, 3)
    // dominated by a1, a3 (4, 4) below the chord a1 → a4, a4 (6, 6), a5 (0, -1).
    let instance = Instance {
        n_customers: 1,
        n_arms: 6,
        customer: vec![0; 6],
        arm: vec![0, 1, 2, 3, 4, 5],
        cost: vec![1.0, 2.0, 3.0, 4.0, 6.0, 0.0],
        value: vec![1.0, 3.0, 3.0, 4.0, 6.0, -1.0],
    };
    let plan = allocate(&instance.offers(), &instance.params(100.0)).unwrap();
    // Hull: (0,0) → a1 (2,3) slope 1.5 → a4 (6,6) slope 0.75.
    assert_eq!(plan.segments, 2);
    assert_eq!(plan.allocation[0].arm, 4);
    assert_eq!(plan.spend_cap, 6.0);
    assert!(plan.capped);
    let plan = allocate(&instance.offers(), &instance.params(4.0)).unwrap();
    assert_eq!(plan.allocation[0].arm, 1);
    assert_eq!(plan.integer_value, 3.0);
    assert_eq!(plan.lp_value, 3.0 + 0.5 * 3.0);
    assert_eq!(plan.lambda, 0.75);
    let f = plan.fractional.unwrap();
    assert_eq!((f.from_arm, f.to_arm, f.fraction), (1, 4, 0.5));
    // A zero-cost arm with positive value is the starting point.
    let free = Instance {
        n_customers: 1,
        n_arms: 2,
        customer: vec![0, 0],
        arm: vec![0, 1],
        cost: vec![0.0, 1.0],
        value: vec![2.0, 1.0],
    };
    let plan = allocate(&free.offers(), &free.params(0.0)).unwrap();
    assert_eq!(plan.base_value, 2.0);
    assert_eq!(plan.allocation[0].arm, 0);
    assert_eq!(plan.segments, 0);
    // A cost of −0.0 is a cost of 0: a losing free arm does not become the start.
    let negative_zero = Instance {
        n_customers: 1,
        n_arms: 2,
        customer: vec![0, 0],
        arm: vec![0, 1],
        cost: vec![-0.0, 1.0],
        value: vec![-1.0, 1.0],
    };
    let plan = allocate(&negative_zero.offers(), &negative_zero.params(0.5)).unwrap();
    assert_eq!(plan.base_value, 0.0);
    assert_eq!(plan.allocation[0].arm, ZERO_ARM);
    assert_eq!(plan.lp_value, 0.5);
}

#[test]
fn flat_policies_are_priced_and_compared_at_their_own_cost() {
    // Two customers, arms 0 (both have it) and 1 (only customer 0).
    let instance = Instance {
        n_customers: 2,
        n_arms: 2,
        customer: vec![0, 1, 0],
        arm: vec![0, 0, 1],
        cost: vec![1.0, 1.0, 2.0],
        value: vec![3.0, -1.0, 5.0],
    };
    let plan = allocate(&instance.offers(), &instance.params(0.0)).unwrap();
    assert_eq!(plan.flat.len(), 1);
    let priced = BudgetParams {
        budget: BudgetRule::FlatPolicy(0),
        ..instance.params(0.0)
    };
    assert_eq!(allocate(&instance.offers(), &priced).unwrap().budget, 2.0);
    let unpriced = BudgetParams {
        budget: BudgetRule::FlatPolicy(1),
        ..instance.params(0.0)
    };
    assert_eq!(
        allocate(&instance.offers(), &unpriced)
            .unwrap_err()
            .to_string(),
        "the flat policy of arm 1 has no price: only 1 of the 2 customers have that arm"
    );
    let flat = &plan.flat[0];
    assert_eq!((flat.arm, flat.cost, flat.value), (0, 2.0, 2.0));
    // At budget 2 the targeted allocation gives customer 0 arm 1 (5) and customer 1 nothing.
    assert_eq!(flat.targeted_value, 5.0);
    assert_eq!(flat.targeted_lp_value, 5.0);
}

#[test]
fn bad_input_is_refused_with_its_row() {
    let ok = Instance {
        n_customers: 2,
        n_arms: 2,
        customer: vec![0, 0, 1],
        arm: vec![0, 1, 0],
        cost: vec![1.0, 2.0, 1.0],
        value: vec![1.0, 2.0, 1.0],
    };
    assert!(allocate(&ok.offers(), &ok.params(1.0)).is_ok());
    for budget in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            allocate(&ok.offers(), &ok.params(budget)),
            Err(BudgetError::Budget(_))
        ));
    }
    let mut bad = ok.clone();
    bad.value[1] = f64::NAN;
    let err = allocate(&bad.offers(), &bad.params(1.0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 1, column value: must be a finite number, got NaN"
    );
    let mut bad = ok.clone();
    bad.cost[2] = -0.5;
    let err = allocate(&bad.offers(), &bad.params(1.0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 2, column cost: must be >= 0, got -0.5"
    );
    let mut bad = ok.clone();
    bad.cost[0] = f64::INFINITY;
    assert!(allocate(&bad.offers(), &bad.params(1.0)).is_err());
    let mut bad = ok.clone();
    bad.arm[1] = 0;
    let err = allocate(&bad.offers(), &bad.params(1.0)).unwrap_err();
    assert_eq!(err, BudgetError::Duplicate { row: 1, first: 0 });
    let empty = Instance {
        customer: vec![],
        arm: vec![],
        cost: vec![],
        value: vec![],
        ..ok
    };
    assert_eq!(
        allocate(&empty.offers(), &empty.params(1.0)).unwrap_err(),
        BudgetError::Empty
    );
}
