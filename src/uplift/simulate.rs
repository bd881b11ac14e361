//! A simulated randomized rate test on known customers, generated from the economic model's
//! hidden sensitivity β_i, so that a learned policy's true value can be measured.
//!
//! Customer `c` gets arm `h("offer_arm", c) mod K` (equal shares). In a window of `W` days its
//! purchases are Poisson(`n_invoices · W/365 · (1 + β·r_arm)`) and each purchase's value is
//! Gamma(shape 2, mean `avg_basket_value`); the outcome is the spend in the window. The draws
//! of a customer come from its own stream, seeded by `h("offer_draws", c)`, so the log does not
//! depend on the order or the thread count.
//!
//! The truth: the expected spend under each arm `n_invoices·W/365·(1 + β r)·avg_basket_value`
//! and the expected profit `(m − r)·spend − cost`; the best arm maximises the profit.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::features::linkage::h_customer;
use crate::learn::matrix::Matrix;
use crate::sources::offers::{Arm, OfferLog};

/// Settings of the simulated test.
#[derive(Clone, Debug)]
pub(crate) struct SimulationParams {
    /// Rates of the arms; the first is the control.
    pub arms: Vec<f64>,
    pub window_days: f64,
    pub seed: u64,
}

/// Gives a simulated log its customers' features: column `j` of `x` (one row per log row)
/// named `names[j]`, as an external log lists them.
pub(crate) fn set_features(log: &mut OfferLog, names: &[String], x: &Matrix) {
    log.features = names
        .iter()
        .enumerate()
        .map(|(j, name)| (name.clone(), x.column(j)))
        .collect();
}

/// Per-customer inputs.
pub(crate) struct SimulationInputs<'a> {
    pub customer_id: &'a [i64],
    pub n_invoices: &'a [f64],
    pub avg_basket_value: &'a [f64],
    pub beta: &'a [f64],
    pub margin: &'a [f64],
}

/// The hidden truth of a simulated test.
#[derive(Clone, Debug, Default)]
pub(crate) struct Truth {
    pub customer_id: Vec<i64>,
    pub beta: Vec<f64>,
    pub margin: Vec<f64>,
    /// `expected_spend[a][i]`.
    pub expected_spend: Vec<Vec<f64>>,
    /// `expected_profit[a][i]`.
    pub expected_profit: Vec<Vec<f64>>,
    pub best: Vec<usize>,
}

/// Arm label of a rate: `"0%"`, `"2%"`, `"7.5%"`.
pub(crate) fn arm_name(rate: f64) -> String {
    let percent = (rate * 100_000.0).round() / 1000.0;
    format!("{percent}%")
}

/// A Poisson draw (Knuth's product method, in pieces of mean at most 20: a sum of independent
/// Poissons is Poisson, and small pieces keep `exp(−λ)` far from underflow).
fn poisson(rng: &mut Xoshiro256PlusPlus, mean: f64) -> u64 {
    let mut remaining = mean.max(0.0);
    let mut count = 0;
    while remaining > 0.0 {
        let piece = remaining.min(20.0);
        remaining -= piece;
        let limit = (-piece).exp();
        let mut product: f64 = rng.gen();
        while product > limit {
            count += 1;
            product *= rng.gen::<f64>();
        }
    }
    count
}

/// Gamma(shape 2, mean `mean`): the sum of two exponentials of mean `mean / 2`.
fn gamma2(rng: &mut Xoshiro256PlusPlus, mean: f64) -> f64 {
    let e1 = -(1.0 - rng.gen::<f64>()).ln();
    let e2 = -(1.0 - rng.gen::<f64>()).ln();
    (e1 + e2) * mean / 2.0
}

/// Simulates the test: the log (outcome `spend`, margins set, no features) and its truth.
pub(crate) fn simulate(inputs: &SimulationInputs, params: &SimulationParams) -> (OfferLog, Truth) {
    let n = inputs.customer_id.len();
    let k = params.arms.len();
    let scale = params.window_days / 365.0;
    let mut log = OfferLog {
        customer_id: inputs.customer_id.to_vec(),
        arm: Vec::with_capacity(n),
        arms: params
            .arms
            .iter()
            .map(|&rate| Arm {
                name: arm_name(rate),
                rate,
                cost: 0.0,
            })
            .collect(),
        margin: inputs.margin.to_vec(),
        outcomes: vec![("spend".into(), Vec::with_capacity(n))],
        features: Vec::new(),
    };
    let mut truth = Truth {
        customer_id: inputs.customer_id.to_vec(),
        beta: inputs.beta.to_vec(),
        margin: inputs.margin.to_vec(),
        expected_spend: vec![Vec::with_capacity(n); k],
        expected_profit: vec![Vec::with_capacity(n); k],
        best: Vec::with_capacity(n),
    };
    for i in 0..n {
        let c = inputs.customer_id[i];
        let arm = (h_customer("offer_arm", params.seed, c) % k as u64) as usize;
        let purchases_at = |rate: f64| inputs.n_invoices[i] * scale * (1.0 + inputs.beta[i] * rate);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(h_customer("offer_draws", params.seed, c));
        let count = poisson(&mut rng, purchases_at(params.arms[arm]));
        // A fold from +0 (`sum` starts at −0, which a CSV shows as "-0" for no purchases).
        let spend = (0..count)
            .map(|_| gamma2(&mut rng, inputs.avg_basket_value[i]))
            .fold(0.0, |total, value| total + value);
        log.arm.push(arm);
        log.outcomes[0].1.push(spend);
        let mut best = 0;
        for (a, &rate) in params.arms.iter().enumerate() {
            let expected = purchases_at(rate) * inputs.avg_basket_value[i];
            let profit = (inputs.margin[i] - rate) * expected;
            truth.expected_spend[a].push(expected);
            truth.expected_profit[a].push(profit);
            if profit > truth.expected_profit[best][i] {
                best = a;
            }
        }
        truth.best.push(best);
    }
    (log, truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_have_the_model_means() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let reps = 200_000;
        for mean in [0.3, 7.0, 55.0] {
            let sum: u64 = (0..reps).map(|_| poisson(&mut rng, mean)).sum();
            let m = sum as f64 / reps as f64;
            assert!(
                (m - mean).abs() < 4.0 * (mean / reps as f64).sqrt(),
                "{m} vs {mean}"
            );
        }
        let values: Vec<f64> = (0..reps).map(|_| gamma2(&mut rng, 10.0)).collect();
        let m = values.iter().sum::<f64>() / reps as f64;
        let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / reps as f64;
        // Gamma(2, θ = 5): mean 10, variance 2·25 = 50.
        assert!((m - 10.0).abs() < 0.07, "{m}");
        assert!((var - 50.0).abs() < 1.5, "{var}");
    }

    #[test]
    fn arms_are_balanced_seeded_and_truth_is_consistent() {
        let n = 9000;
        let ids: Vec<i64> = (0..n as i64).collect();
        let ones = vec![4.0; n];
        let basket = vec![25.0; n];
        let beta = vec![20.0; n];
        let margin = vec![0.1; n];
        let inputs = SimulationInputs {
            customer_id: &ids,
            n_invoices: &ones,
            avg_basket_value: &basket,
            beta: &beta,
            margin: &margin,
        };
        let params = SimulationParams {
            arms: vec![0.0, 0.02, 0.05],
            window_days: 90.0,
            seed: 42,
        };
        let (log, truth) = simulate(&inputs, &params);
        for count in log.arm_counts() {
            assert!((2850..3150).contains(&count), "{:?}", log.arm_counts());
        }
        // β = 20, m = 0.1: profits ∝ 0.1, 1.4·0.08 = 0.112, 2·0.05 = 0.1 → 2% is best.
        assert!(truth.best.iter().all(|&b| b == 1));
        let expected_0 = 4.0 * 90.0 / 365.0 * 25.0;
        assert!((truth.expected_spend[0][0] - expected_0).abs() < 1e-9);
        // The simulated mean spend of each arm is near its expectation.
        for a in 0..3 {
            let rows: Vec<usize> = (0..n).filter(|&i| log.arm[i] == a).collect();
            let m = rows.iter().map(|&i| log.outcomes[0].1[i]).sum::<f64>() / rows.len() as f64;
            let expected = truth.expected_spend[a][0];
            assert!(
                (m - expected).abs() < 0.06 * expected,
                "arm {a}: {m} vs {expected}"
            );
        }
        let (again, _) = simulate(&inputs, &params);
        assert_eq!(again, log);
        assert_eq!(log.arms[1].name, "2%");
        assert_eq!(arm_name(0.075), "7.5%");
    }
}
