//! The comparison a marketing team reads: the targeted allocation against every customer on
//! one flat rate at the same cost, in numbers and in one sentence; and the dense customer
//! index the allocator works on.

use super::BudgetPlan;
use crate::numfmt::amount;

/// Dense customer indices in customer_id order.
pub(crate) fn dense_customers(ids: &[i64]) -> (Vec<i64>, Vec<u32>) {
    use rayon::prelude::*;
    let mut unique = ids.to_vec();
    unique.par_sort_unstable();
    unique.dedup();
    let mut index = Vec::with_capacity(ids.len());
    let mut last: Option<(i64, u32)> = None;
    for &id in ids {
        let i = match last {
            Some((prev, i)) if prev == id => i,
            _ => unique.binary_search(&id).expect("every id is in the list") as u32,
        };
        last = Some((id, i));
        index.push(i);
    }
    (unique, index)
}

/// The arm whose rate is `flat_rate`, if any.
pub(crate) fn flat_arm(arm_rates: &[Option<f64>], flat_rate: f64) -> Option<u32> {
    arm_rates
        .iter()
        .position(|r| r.is_some_and(|r| (r - flat_rate).abs() <= 1e-12))
        .map(|a| a as u32)
}

/// A rate as a short percentage: 0.02 → "2%", 0.075 → "7.5%".
pub(crate) fn percent(rate: f64) -> String {
    let text = format!("{:.3}", rate * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// The comparison sentence at the flat rate's cost, and its numbers.
pub(crate) struct Comparison {
    pub arm: Option<String>,
    pub flat_cost: Option<f64>,
    pub flat_value: Option<f64>,
    pub targeted_value: Option<f64>,
    pub gain: Option<f64>,
    pub gain_pct: Option<f64>,
    pub sentence: String,
}

/// Compares the targeted allocation with every customer on the arm at `flat_rate`, at that
/// policy's cost; `arm_names` and `arm_rates` are indexed by arm.
pub(crate) fn compare(
    plan: &BudgetPlan,
    arm_names: &[String],
    arm_rates: &[Option<f64>],
    flat_rate: f64,
) -> Comparison {
    let found =
        flat_arm(arm_rates, flat_rate).and_then(|arm| plan.flat.iter().find(|f| f.arm == arm));
    let Some(flat) = found else {
        return Comparison {
            arm: None,
            flat_cost: None,
            flat_value: None,
            targeted_value: None,
            gain: None,
            gain_pct: None,
            sentence: format!(
                "no flat {} policy to compare with (no arm at that rate that every customer has)",
                percent(flat_rate)
            ),
        };
    };
    let gain = flat.targeted_value - flat.value;
    let gain_pct = (flat.value > 0.0).then(|| 100.0 * gain / flat.value);
    let relative = match gain_pct {
        Some(pct) => format!(
            "{pct:+.1}% on the flat policy's {}",
            amount(flat.value, false)
        ),
        None => format!(
            "the flat policy earns {}, so no percentage",
            amount(flat.value, false)
        ),
    };
    let more = if gain >= 0.0 { "more" } else { "less" };
    Comparison {
        arm: Some(arm_names[flat.arm as usize].clone()),
        flat_cost: Some(flat.cost),
        flat_value: Some(flat.value),
        targeted_value: Some(flat.targeted_value),
        gain: Some(gain),
        gain_pct,
        sentence: format!(
            "at the cost of a flat {} ({}), the targeted allocation earns {} {more} ({relative})",
            percent(flat_rate),
            amount(flat.cost, false),
            amount(gain.abs(), false)
        ),
    }
}
