//! What an allocation is read as ([`assemble`]): the comparison with the flat policy, the
//! allocation checked on the offer test's held-out customers, and the five output tables
//! (allocation, curve, curve per arm, flat policies, one-row summary); and the flat policies as
//! the chart labels them.

use anyhow::Result;
use polars::prelude::*;

use super::comparison::{compare, flat_arm, Comparison};
use super::heldout::{HeldOut, HeldOutEstimate};
use super::sources::AllocationInput;
use super::{BudgetPlan, ZERO_ARM};
use crate::frame::Table;

/// What [`assemble`] needs besides the allocation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AssembleParams {
    /// The flat policy compared with: every customer at this rate.
    pub flat_rate: f64,
    /// Bootstrap resamples of the held-out check's intervals.
    pub resamples: usize,
    pub seed: u64,
}

/// An allocation as it is read and written.
/// The tables an allocation writes, in the order [`Assembled::tables`] holds them.
pub(crate) const TABLES: [&str; 5] = [
    "budget_allocation",
    "budget_curve",
    "budget_curve_arms",
    "budget_flat_policies",
    "budget_summary",
];

pub(crate) struct Assembled {
    pub comparison: Comparison,
    /// The held-out check in words, when the values come from an offer test.
    pub held_out: Option<String>,
    /// budget_allocation, budget_curve, budget_curve_arms, budget_flat_policies and
    /// budget_summary, in that order.
    pub tables: Vec<DataFrame>,
}

/// Compares `plan` with the flat policy, checks it on the held-out customers (when `input`
/// has them) and builds the five tables; `basis` says where the budget came from.
pub(crate) fn assemble(
    input: &AllocationInput,
    plan: &BudgetPlan,
    basis: &str,
    params: &AssembleParams,
) -> Result<Assembled> {
    let comparison = compare(plan, &input.arm_names, &input.arm_rates, params.flat_rate);
    let held_out = input.held_out.as_ref().map(|held| {
        held_out_estimate(
            input,
            plan,
            held,
            params.flat_rate,
            params.resamples,
            params.seed,
        )
    });
    let tables = tables(input, plan, basis, &comparison, held_out.as_ref())?;
    Ok(Assembled {
        comparison,
        held_out: held_out.map(|(_, sentence)| sentence),
        tables,
    })
}

/// Name of the implicit zero arm in the outputs.
pub(crate) const ZERO_ARM_NAME: &str = "none";

/// An arm's name and rate in the outputs (the zero arm is "none" at rate 0).
fn arm_label(input: &AllocationInput, arm: u32) -> (String, Option<f64>) {
    if arm == ZERO_ARM {
        (ZERO_ARM_NAME.to_string(), Some(0.0))
    } else {
        (
            input.arm_names[arm as usize].clone(),
            input.arm_rates[arm as usize],
        )
    }
}

/// The allocation's value on the offer test's held-out customers, model vs doubly robust,
/// against no cashback and against everyone at `flat_rate`; and that in words.
fn held_out_estimate(
    input: &AllocationInput,
    plan: &BudgetPlan,
    held: &HeldOut,
    flat_rate: f64,
    resamples: usize,
    seed: u64,
) -> (HeldOutEstimate, String) {
    let arm: Vec<Option<usize>> = plan
        .allocation
        .iter()
        .map(|c| (c.arm != ZERO_ARM).then_some(c.arm as usize))
        .collect();
    let value: Vec<f64> = plan.allocation.iter().map(|c| c.value).collect();
    let flat = flat_arm(&input.arm_rates, flat_rate);
    let flat_value: Option<Vec<f64>> = flat.map(|flat| {
        let mut v = vec![0.0; input.customer_ids.len()];
        for (row, &a) in input.arm.iter().enumerate() {
            if a == flat {
                v[input.customer[row] as usize] = input.value[row];
            }
        }
        v
    });
    let estimate = held.estimate(
        &arm,
        &value,
        flat.zip(flat_value.as_deref())
            .map(|(a, v)| (a as usize, v)),
        resamples,
        seed,
    );
    let name = flat.map(|a| input.arm_names[a as usize].clone());
    let sentence = estimate.sentence(name.as_deref());
    (estimate, sentence)
}

/// The five tables, in [`Assembled::tables`] order; `held_out` is the held-out check and its
/// sentence, when the values come from an offer test.
fn tables(
    input: &AllocationInput,
    plan: &BudgetPlan,
    basis: &str,
    comparison: &Comparison,
    held_out: Option<&(HeldOutEstimate, String)>,
) -> Result<Vec<DataFrame>> {
    let n = plan.allocation.len();
    let labels: Vec<(String, Option<f64>)> = (0..input.arm_names.len() as u32)
        .chain([ZERO_ARM])
        .map(|a| arm_label(input, a))
        .collect();
    let slot = |arm: u32| {
        if arm == ZERO_ARM {
            input.arm_names.len()
        } else {
            arm as usize
        }
    };
    let allocation = Table::new(n)
        .col("customer_id", input.customer_ids.iter().copied())
        .col(
            "arm",
            plan.allocation
                .iter()
                .map(|c| labels[slot(c.arm)].0.clone()),
        )
        .col(
            "rate",
            plan.allocation.iter().map(|c| labels[slot(c.arm)].1),
        )
        .col("cost", plan.allocation.iter().map(|c| c.cost))
        .col("value", plan.allocation.iter().map(|c| c.value))
        .build()?;
    let points = plan.curve.len();
    let curve = Table::new(points)
        .col("point", 0..points as i64)
        .col("budget", plan.curve.iter().map(|p| p.budget))
        .col("value", plan.curve.iter().map(|p| p.value))
        .col("cost", plan.curve.iter().map(|p| p.cost))
        .col("lambda", plan.curve.iter().map(|p| p.lambda))
        .build()?;
    // Per point and arm; the zero arm only when some customer is ever on it.
    let zero_used = plan.curve.iter().any(|p| p.customers[labels.len() - 1] > 0);
    let shown_slots: Vec<usize> = (0..labels.len())
        .filter(|&s| s + 1 < labels.len() || zero_used)
        .collect();
    let (mut point, mut arm, mut rate, mut customers) = (vec![], vec![], vec![], vec![]);
    for (p, curve_point) in plan.curve.iter().enumerate() {
        for &s in &shown_slots {
            point.push(p as i64);
            arm.push(labels[s].0.clone());
            rate.push(labels[s].1);
            customers.push(curve_point.customers[s] as i64);
        }
    }
    let curve_arms = Table::new(point.len())
        .col("point", point)
        .col("arm", arm)
        .col("rate", rate)
        .col("customers", customers)
        .build()?;
    let flat = Table::new(plan.flat.len())
        .col(
            "arm",
            plan.flat.iter().map(|f| labels[f.arm as usize].0.clone()),
        )
        .col("rate", plan.flat.iter().map(|f| labels[f.arm as usize].1))
        .col("cost", plan.flat.iter().map(|f| f.cost))
        .col("value", plan.flat.iter().map(|f| f.value))
        .col("targeted_value", plan.flat.iter().map(|f| f.targeted_value))
        .col(
            "targeted_lp_value",
            plan.flat.iter().map(|f| f.targeted_lp_value),
        )
        .col("gain", plan.flat.iter().map(|f| f.targeted_value - f.value))
        .col(
            "gain_pct",
            plan.flat
                .iter()
                .map(|f| (f.value > 0.0).then(|| 100.0 * (f.targeted_value - f.value) / f.value)),
        )
        .build()?;
    let fractional = plan
        .fractional
        .as_ref()
        .map(|f| input.customer_ids[f.customer as usize]);
    let estimate = held_out.map(|(e, _)| e);
    let summary = Table::new(1)
        .col("source", [input.source.clone()])
        .col("customers", [n as i64])
        .col("arms", [input.arm_names.len() as i64])
        .col("budget", [plan.budget])
        .col("budget_basis", [basis.to_string()])
        .col("spend_cap", [plan.spend_cap])
        .col("budget_capped", [plan.capped])
        .col("base_value", [plan.base_value])
        .col("lp_value", [plan.lp_value])
        .col("lp_cost", [plan.lp_cost])
        .col("integer_value", [plan.integer_value])
        .col("integer_cost", [plan.integer_cost])
        .col("gap", [plan.gap])
        .col("lambda", [plan.lambda])
        .col("fractional_customer", [fractional])
        .col("segments", [plan.segments as i64])
        .col("flat_arm", [comparison.arm.clone()])
        .col("flat_cost", [comparison.flat_cost])
        .col("flat_value", [comparison.flat_value])
        .col("targeted_value", [comparison.targeted_value])
        .col("gain", [comparison.gain])
        .col("gain_pct", [comparison.gain_pct])
        .col("sentence", [comparison.sentence.clone()])
        .col("heldout_customers", [estimate.map(|e| e.customers as i64)])
        .col("heldout_model_value", [estimate.map(|e| e.model_value)])
        .col("heldout_dr_value", [estimate.map(|e| e.dr_value.dr)])
        .col("heldout_dr_ci_low", [estimate.map(|e| e.dr_value.ci_low)])
        .col("heldout_dr_ci_high", [estimate.map(|e| e.dr_value.ci_high)])
        .col("heldout_model_gain", [estimate.and_then(|e| e.model_gain)])
        .col(
            "heldout_dr_gain",
            [estimate.and_then(|e| e.dr_gain.as_ref().map(|g| g.dr))],
        )
        .col(
            "heldout_gain_ci_low",
            [estimate.and_then(|e| e.dr_gain.as_ref().map(|g| g.ci_low))],
        )
        .col(
            "heldout_gain_ci_high",
            [estimate.and_then(|e| e.dr_gain.as_ref().map(|g| g.ci_high))],
        )
        .col(
            "heldout_sentence",
            [held_out.map(|(_, sentence)| sentence.clone())],
        )
        .build()?;
    Ok(vec![allocation, curve, curve_arms, flat, summary])
}
