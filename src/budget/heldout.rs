//! The allocation checked on the offer test's held-out customers: when the values come from a
//! randomized test, the allocation's value can be estimated from what those customers actually
//! did (doubly robust, as `uplift` evaluates its policies), beside the model's own estimate.
//!
//! On the held-out rows, with `q̂_a` the modelled profit of arm `a` (from models that never saw
//! those rows), `P_i` the realised profit and `e_a` the design share of arm `a`, a policy's DR
//! value is `mean_i q̂_{π_i} + 1[A_i = π_i]·(P_i − q̂_{A_i})/e_{π_i}`; the allocation's value over
//! no cashback is the paired difference with "everyone control", and its gain over the flat
//! policy the paired difference with "everyone on the flat arm". Figures are totals over the
//! held-out customers (mean × n) with 95% bootstrap intervals.

use crate::uplift::policy::{Evaluation, Gain};

/// The held-out customers of an offer test, in the allocator's arm indices.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct HeldOut {
    /// Dense customer index (as the allocator numbers customers) per held-out row.
    pub customer: Vec<u32>,
    /// The arm each held-out customer received in the test.
    pub received: Vec<usize>,
    /// Realised profit per held-out row: `(m − r_A)·y − contact cost`.
    pub realised: Vec<f64>,
    /// `[arm][row]`: modelled profit of each arm.
    pub modelled: Vec<Vec<f64>>,
    /// Design share of each arm.
    pub propensity: Vec<f64>,
    /// The control arm (the allocator's zero arm "no cashback" maps to it).
    pub control: usize,
}

/// The allocation's value on the held-out customers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HeldOutEstimate {
    pub customers: usize,
    /// The model's own estimate of the allocation's value over no cashback (the allocator's
    /// objective summed over the held-out customers).
    pub model_value: f64,
    /// The doubly-robust estimate of the same, with its interval.
    pub dr_value: Gain,
    /// The model's estimate of the allocation's gain over the flat policy.
    pub model_gain: Option<f64>,
    /// The doubly-robust estimate of that gain.
    pub dr_gain: Option<Gain>,
}

impl HeldOut {
    /// Estimates the allocation `arm` (per dense customer; `None` = the zero arm) whose
    /// modelled value over control is `value` (per dense customer), against control and against
    /// everyone on `flat` (with `flat_value`, the flat arm's modelled value per dense customer).
    pub(crate) fn estimate(
        &self,
        arm: &[Option<usize>],
        value: &[f64],
        flat: Option<(usize, &[f64])>,
        resamples: usize,
        seed: u64,
    ) -> HeldOutEstimate {
        let n = self.customer.len();
        let policy: Vec<usize> = self
            .customer
            .iter()
            .map(|&c| arm[c as usize].unwrap_or(self.control))
            .collect();
        let eval = Evaluation {
            arm: &self.received,
            realised: &self.realised,
            modelled: &self.modelled,
            propensity: &self.propensity,
        };
        let total = |g: Gain| Gain {
            dr: g.dr * n as f64,
            ci_low: g.ci_low * n as f64,
            ci_high: g.ci_high * n as f64,
        };
        let control = vec![self.control; n];
        let model_value: f64 = self.customer.iter().map(|&c| value[c as usize]).sum();
        let dr_value = total(eval.gain(&policy, &control, resamples, seed));
        let (model_gain, dr_gain) = match flat {
            Some((flat_arm, flat_value)) => {
                let everyone = vec![flat_arm; n];
                let model_flat: f64 = self.customer.iter().map(|&c| flat_value[c as usize]).sum();
                (
                    Some(model_value - model_flat),
                    Some(total(eval.gain(&policy, &everyone, resamples, seed ^ 1))),
                )
            }
            None => (None, None),
        };
        HeldOutEstimate {
            customers: n,
            model_value,
            dr_value,
            model_gain,
            dr_gain,
        }
    }
}

/// The offer log's rows of the spend outcome (table `offers`).
pub(crate) struct TestLog<'a> {
    pub customer_id: &'a [i64],
    pub arm: &'a [String],
    pub rate: &'a [f64],
    pub contact_cost: &'a [f64],
    pub control: &'a [bool],
    pub margin: &'a [f64],
    pub outcome: &'a [f64],
}

/// The learned expected outcome per held-out customer and arm (table `uplift_predictions`,
/// split "test", the spend outcome).
pub(crate) struct TestPredictions<'a> {
    pub customer_id: &'a [i64],
    pub arm: &'a [String],
    pub expected: &'a [f64],
}

impl HeldOut {
    /// Joins the log and the held-out predictions in the allocator's numbering: `arm_names`
    /// its arms, `customer_ids` its dense customers (sorted). `None` when no customer is held
    /// out; an error names what does not match.
    pub(crate) fn from_columns(
        log: &TestLog,
        predictions: &TestPredictions,
        arm_names: &[String],
        customer_ids: &[i64],
    ) -> Result<Option<HeldOut>, String> {
        let k = arm_names.len();
        let arm_index = |name: &str| {
            arm_names
                .iter()
                .position(|a| a == name)
                .ok_or_else(|| format!("arm {name:?} of the offer log has no learned values"))
        };
        let dense = |id: i64| customer_ids.binary_search(&id).ok();
        // Expected outcome per (held-out customer, arm).
        let mut expected: std::collections::HashMap<u32, Vec<f64>> =
            std::collections::HashMap::new();
        for i in 0..predictions.customer_id.len() {
            let Some(c) = dense(predictions.customer_id[i]) else {
                continue;
            };
            let a = arm_index(&predictions.arm[i])?;
            expected
                .entry(c as u32)
                .or_insert_with(|| vec![f64::NAN; k])[a] = predictions.expected[i];
        }
        if expected.is_empty() {
            return Ok(None);
        }
        let mut rate = vec![f64::NAN; k];
        let mut contact = vec![0.0; k];
        let mut count = vec![0usize; k];
        let mut control = None;
        let mut rows = Vec::new();
        for i in 0..log.customer_id.len() {
            let a = arm_index(&log.arm[i])?;
            rate[a] = log.rate[i];
            contact[a] = log.contact_cost[i];
            count[a] += 1;
            if log.control[i] {
                control = Some(a);
            }
            if let Some(c) =
                dense(log.customer_id[i]).filter(|&c| expected.contains_key(&(c as u32)))
            {
                rows.push((i, c as u32, a));
            }
        }
        let control = control.ok_or("the offer log has no control rows")?;
        let total = log.customer_id.len() as f64;
        let mut held = HeldOut {
            propensity: count.iter().map(|&c| c as f64 / total).collect(),
            control,
            modelled: vec![Vec::with_capacity(rows.len()); k],
            ..HeldOut::default()
        };
        for (i, c, a) in rows {
            let mu = &expected[&c];
            if let Some(missing) = (0..k).find(|&b| mu[b].is_nan() && count[b] > 0) {
                return Err(format!(
                    "customer {} has no learned outcome for arm {:?}",
                    log.customer_id[i], arm_names[missing]
                ));
            }
            let m = log.margin[i];
            held.customer.push(c);
            held.received.push(a);
            held.realised
                .push((m - rate[a]) * log.outcome[i] - contact[a]);
            for (b, column) in held.modelled.iter_mut().enumerate() {
                column.push(if count[b] > 0 {
                    (m - rate[b]) * mu[b] - contact[b]
                } else {
                    0.0
                });
            }
        }
        Ok((!held.customer.is_empty()).then_some(held))
    }
}

impl HeldOutEstimate {
    /// The estimate in words, with its base.
    pub(crate) fn sentence(&self, flat_name: Option<&str>) -> String {
        let mut text = format!(
            "on the {} held-out customers of the offer test, the allocation earns {} over no cashback by the model, {} by the doubly-robust estimate (95% interval {} to {})",
            thousands(self.customers),
            amount(self.model_value, false),
            amount(self.dr_value.dr, false),
            amount(self.dr_value.ci_low, false),
            amount(self.dr_value.ci_high, false)
        );
        if let (Some(model), Some(dr), Some(name)) = (self.model_gain, &self.dr_gain, flat_name) {
            text.push_str(&format!(
                "; over everyone on {name}: {} by the model, {} doubly robust ({} to {})",
                amount(model, true),
                amount(dr.dr, true),
                amount(dr.ci_low, false),
                amount(dr.ci_high, false)
            ));
        }
        text
    }
}

use crate::numfmt::amount;

fn thousands(n: usize) -> String {
    crate::numfmt::grouped(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// A randomized two-arm test with a known effect: arm 1 adds 2.0 profit for customers with
    /// an even index and costs 1.0 for the others. The model is deliberately wrong (it says
    /// arm 1 is worth +5 for everyone); the DR estimate must still find the true value.
    fn fixture(n: usize) -> (HeldOut, Vec<f64>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut held = HeldOut {
            propensity: vec![0.5, 0.5],
            control: 0,
            modelled: vec![vec![0.0; n], vec![5.0; n]],
            ..HeldOut::default()
        };
        let mut true_effect = Vec::new();
        for i in 0..n {
            let effect = if i % 2 == 0 { 2.0 } else { -1.0 };
            true_effect.push(effect);
            let a = usize::from(rng.gen_bool(0.5));
            let noise: f64 = rng.gen_range(-1.0..1.0);
            held.customer.push(i as u32);
            held.received.push(a);
            held.realised
                .push(10.0 + noise + if a == 1 { effect } else { 0.0 });
        }
        (held, true_effect)
    }

    #[test]
    fn doubly_robust_value_finds_the_true_effect_when_the_model_is_wrong() {
        let n = 20_000;
        let (held, effect) = fixture(n);
        // Allocate arm 1 to the even customers only: true value = 2.0 per even customer.
        let arm: Vec<Option<usize>> = (0..n).map(|i| (i % 2 == 0).then_some(1)).collect();
        let value: Vec<f64> = arm
            .iter()
            .map(|a| if a.is_some() { 5.0 } else { 0.0 })
            .collect();
        let flat_value = vec![5.0; n];
        let est = held.estimate(&arm, &value, Some((1, &flat_value)), 200, 3);
        let truth: f64 = (0..n).filter(|i| i % 2 == 0).map(|i| effect[i]).sum();
        assert_eq!(est.customers, n);
        assert!((est.model_value - 5.0 * (n / 2) as f64).abs() < 1e-9);
        assert!(
            (est.dr_value.dr - truth).abs() < 0.05 * truth,
            "DR {} vs truth {truth}",
            est.dr_value.dr
        );
        assert!(est.dr_value.ci_low < truth && truth < est.dr_value.ci_high);
        // Against everyone on arm 1 the allocation avoids the odd customers' loss of 1.0 each.
        let gain_truth = (n / 2) as f64;
        let gain = est.dr_gain.clone().unwrap();
        assert!(
            (gain.dr - gain_truth).abs() < 0.1 * gain_truth,
            "{} vs {gain_truth}",
            gain.dr
        );
        assert_eq!(est.model_gain, Some(-5.0 * (n / 2) as f64));
        let text = est.sentence(Some("2%"));
        assert!(text.contains("20,000 held-out customers"), "{text}");
        assert!(text.contains("over everyone on 2%"), "{text}");
    }

    #[test]
    fn the_zero_arm_is_the_control() {
        let (held, _) = fixture(1000);
        let none = vec![None; 1000];
        let est = held.estimate(&none, &[0.0; 1000], None, 50, 1);
        assert_eq!(est.dr_value.dr, 0.0);
        assert_eq!(est.model_value, 0.0);
        assert!(est.dr_gain.is_none());
    }
}
