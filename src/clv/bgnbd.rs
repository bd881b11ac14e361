//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
//! while alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
//! purchase they die with probability p ~ Beta(a, b). Fitted by maximum likelihood on the
//! closed-form log-likelihood in log-parameters with analytic gradients and BFGS; standard
//! errors from the Hessian (central differences of the analytic gradient) by the delta method,
//! as `lifetimes` reports them.

use std::collections::HashMap;

use rayon::prelude::*;

use super::optimize::{bfgs, numeric_hessian, spd_inverse, Tolerances};
use super::rfm::CompressedRfm;
use super::special::{digamma, hyp2f1, ln_gamma};
use super::ClvError;

/// r, α, a, b.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbdParams {
    fn from_log(theta: &[f64]) -> Self {
        Self {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        }
    }

    pub(crate) fn as_array(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }
}

/// A fitted BG/NBD.
#[derive(Clone, Debug)]
pub(crate) struct BgNbdFit {
    pub params: BgNbdParams,
    /// Standard errors of r, α, a, b; `None` when the Hessian is not positive definite.
    pub std_errors: Option<[f64; 4]>,
    /// Σ log-likelihood over customers, without the penalty.
    pub log_likelihood: f64,
    pub n_customers: usize,
    pub iterations: usize,
}

/// The data in the form the likelihood loops over: distinct rows, each pointing at its
/// distinct frequency (x is an integer, so the x-only terms are computed once per x) and at
/// its distinct age and recency (dated purchases put times on a day grid, so ln(α + T) and
/// ln(α + t_x) are computed once per distinct time, not once per row).
struct Prepared {
    /// Distinct frequencies and the total weight of the rows with each.
    xs: Vec<f64>,
    x_weight: Vec<f64>,
    ages: Vec<f64>,
    recencies: Vec<f64>,
    rows: Vec<Row>,
    total_weight: f64,
}

#[derive(Clone, Copy)]
struct Row {
    x_index: u32,
    age_index: u32,
    recency_index: u32,
    x: f64,
    weight: f64,
}

/// Distinct values of `values` and each value's index among them.
fn distinct(values: &[f64]) -> (Vec<f64>, Vec<u32>) {
    let mut index: HashMap<u64, u32> = HashMap::new();
    let mut out = Vec::new();
    let positions = values
        .iter()
        .map(|v| {
            *index.entry(v.to_bits()).or_insert_with(|| {
                out.push(*v);
                (out.len() - 1) as u32
            })
        })
        .collect();
    (out, positions)
}

fn prepare(data: &CompressedRfm) -> Prepared {
    let (xs, x_of) = distinct(&data.frequency);
    let (ages, age_of) = distinct(&data.age);
    let (recencies, recency_of) = distinct(&data.recency);
    let mut x_weight = vec![0.0; xs.len()];
    let rows = (0..data.frequency.len())
        .map(|i| {
            x_weight[x_of[i] as usize] += data.weight[i];
            Row {
                x_index: x_of[i],
                age_index: age_of[i],
                recency_index: recency_of[i],
                x: data.frequency[i],
                weight: data.weight[i],
            }
        })
        .collect();
    Prepared {
        total_weight: data.weight.iter().sum(),
        xs,
        x_weight,
        ages,
        recencies,
        rows,
    }
}

/// Rows per parallel chunk (fixed, so sums do not depend on the thread count).
const CHUNK: usize = 16_384;

/// Σ weight · LL and its gradient with respect to (r, α, a, b).
fn log_likelihood_and_gradient(p: &BgNbdParams, data: &Prepared) -> (f64, [f64; 4]) {
    let BgNbdParams { r, alpha, a, b } = *p;
    let ln_alpha = alpha.ln();
    let (lg_r, psi_r) = (ln_gamma(r), digamma(r));
    let (lg_ab, psi_ab) = (ln_gamma(a + b), digamma(a + b));
    let (lg_b, psi_b) = (ln_gamma(b), digamma(b));
    // Terms that depend on x only, and ln(b + x − 1) for the second likelihood term.
    let mut ll = 0.0;
    let mut grad = [0.0; 4];
    let mut ln_b_x1 = Vec::with_capacity(data.xs.len());
    for (&x, &weight) in data.xs.iter().zip(&data.x_weight) {
        let a1 = ln_gamma(r + x) - lg_r + r * ln_alpha;
        let a2 = lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
        ll += weight * (a1 + a2);
        grad[0] += weight * (digamma(r + x) - psi_r + ln_alpha);
        grad[1] += weight * r / alpha;
        let psi_abx = digamma(a + b + x);
        grad[2] += weight * (psi_ab - psi_abx);
        grad[3] += weight * (psi_ab + digamma(b + x) - psi_b - psi_abx);
        ln_b_x1.push(if x > 0.0 { (b + x - 1.0).ln() } else { 0.0 });
    }
    let ln_a = a.ln();
    let ln_age: Vec<f64> = data.ages.iter().map(|t| (alpha + t).ln()).collect();
    let inv_age: Vec<f64> = data.ages.iter().map(|t| 1.0 / (alpha + t)).collect();
    let ln_rec: Vec<f64> = data.recencies.iter().map(|t| (alpha + t).ln()).collect();
    let inv_rec: Vec<f64> = data.recencies.iter().map(|t| 1.0 / (alpha + t)).collect();
    let inv_b_x1: Vec<f64> = data.xs.iter().map(|x| 1.0 / (b + x - 1.0)).collect();
    // Per chunk: Σ w·lse, ∂/∂r, ∂/∂α, Σ w·share (∂/∂a · a), ∂/∂b of the rows' ln(…) term.
    let row_terms = |rows: &[Row]| -> [f64; 5] {
        let mut acc = [0.0; 5];
        for row in rows {
            let rx = r + row.x;
            let l_age = ln_age[row.age_index as usize];
            let a3 = -rx * l_age;
            let weight = row.weight;
            if row.x > 0.0 {
                let l_rec = ln_rec[row.recency_index as usize];
                let a4 = ln_a - ln_b_x1[row.x_index as usize] - rx * l_rec;
                // ln(e^a3 + e^a4) and the second term's share w, from d = a4 − a3 with one
                // exp and one ln1p, stable for either sign of d.
                let d = a4 - a3;
                let e = (-d.abs()).exp();
                let lse = a3.max(a4) + e.ln_1p();
                let w = if d > 0.0 {
                    1.0 / (1.0 + e)
                } else {
                    e / (1.0 + e)
                };
                acc[0] += weight * lse;
                acc[1] -= weight * ((1.0 - w) * l_age + w * l_rec);
                acc[2] -= weight
                    * rx
                    * ((1.0 - w) * inv_age[row.age_index as usize]
                        + w * inv_rec[row.recency_index as usize]);
                acc[3] += weight * w;
                acc[4] -= weight * w * inv_b_x1[row.x_index as usize];
            } else {
                acc[0] += weight * a3;
                acc[1] -= weight * l_age;
                acc[2] -= weight * rx * inv_age[row.age_index as usize];
            }
        }
        acc
    };
    let parts: Vec<[f64; 5]> = if data.rows.len() > 2 * CHUNK {
        data.rows.par_chunks(CHUNK).map(row_terms).collect()
    } else {
        data.rows.chunks(CHUNK).map(row_terms).collect()
    };
    for part in parts {
        ll += part[0];
        grad[0] += part[1];
        grad[1] += part[2];
        grad[2] += part[3] / a;
        grad[3] += part[4];
    }
    (ll, grad)
}

/// The minimised objective: mean negative log-likelihood plus `penalizer · Σ params²` (as
/// `lifetimes`), in log-parameters θ; writes its gradient with respect to θ.
fn objective(theta: &[f64], data: &Prepared, penalizer: f64, gradient: &mut [f64]) -> f64 {
    let params = BgNbdParams::from_log(theta);
    let (ll, g) = log_likelihood_and_gradient(&params, data);
    let values = params.as_array();
    let mut penalty = 0.0;
    for k in 0..4 {
        penalty += values[k] * values[k];
        gradient[k] =
            -g[k] * values[k] / data.total_weight + 2.0 * penalizer * values[k] * values[k];
    }
    let value = -ll / data.total_weight + penalizer * penalty;
    if value.is_finite() && gradient.iter().all(|v| v.is_finite()) {
        value
    } else {
        f64::NAN
    }
}

/// Σ log-likelihood of `data` under `params` (no penalty).
#[cfg(test)]
pub(crate) fn log_likelihood(params: &BgNbdParams, data: &CompressedRfm) -> f64 {
    log_likelihood_and_gradient(params, &prepare(data)).0
}

/// Fits the BG/NBD by maximum likelihood.
pub(crate) fn fit(data: &CompressedRfm, penalizer: f64) -> Result<BgNbdFit, ClvError> {
    let prepared = prepare(data);
    if prepared.total_weight < 1.0 {
        return Err(ClvError::NoCustomers("BG/NBD"));
    }
    if prepared.xs.iter().all(|&x| x == 0.0) {
        return Err(ClvError::NoRepeatPurchases);
    }
    // Start at r = a = b = 1 and α at the mean age, the time scale of the data.
    let mean_age = data
        .age
        .iter()
        .zip(&data.weight)
        .map(|(t, w)| t * w)
        .sum::<f64>()
        / prepared.total_weight;
    let start = [0.0, mean_age.max(1e-3).ln(), 0.0, 0.0];
    let minimum = bfgs(
        |theta, gradient| objective(theta, &prepared, penalizer, gradient),
        &start,
        Tolerances::default(),
    )
    .map_err(|failure| {
        let p = BgNbdParams::from_log(&failure.last.point);
        ClvError::NotConverged {
            model: "BG/NBD",
            reason: failure.reason,
            iterations: failure.last.iterations,
            at: format!(
                "r = {:.6}, alpha = {:.6}, a = {:.6}, b = {:.6}",
                p.r, p.alpha, p.a, p.b
            ),
            objective: failure.last.value,
            gradient: failure
                .last
                .gradient
                .iter()
                .fold(0.0, |m, g| m.max(g.abs())),
        }
    })?;
    let params = BgNbdParams::from_log(&minimum.point);
    tracing::debug!(
        "BG/NBD converged in {} iterations ({} evaluations)",
        minimum.iterations,
        minimum.evaluations
    );
    let hessian = numeric_hessian(
        |theta, gradient| {
            objective(theta, &prepared, penalizer, gradient);
        },
        &minimum.point,
    );
    let total: Vec<f64> = hessian.iter().map(|h| h * prepared.total_weight).collect();
    let std_errors = spd_inverse(&total, 4).and_then(|inverse| {
        let values = params.as_array();
        let se: [f64; 4] = std::array::from_fn(|k| values[k] * inverse[k * 4 + k].sqrt());
        se.iter().all(|s| s.is_finite()).then_some(se)
    });
    let log_likelihood = log_likelihood_and_gradient(&params, &prepared).0;
    Ok(BgNbdFit {
        params,
        std_errors,
        log_likelihood,
        n_customers: prepared.total_weight.round() as usize,
        iterations: minimum.iterations,
    })
}

/// P(alive | x, t_x, T); 1 for a customer with no repeat purchase (the model lets a customer
/// die only right after a purchase).
pub(crate) fn p_alive(p: &BgNbdParams, x: f64, recency: f64, age: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let odds = p.a / (p.b + x - 1.0)
        * ((p.r + x) * ((p.alpha + age).ln() - (p.alpha + recency).ln())).exp();
    1.0 / (1.0 + odds)
}

/// E[Y(t) | x, t_x, T]: the expected number of purchases in the next `t` time units
/// (equation 10 of the paper). ₂F₁ is summed directly, or — when that overflows (large x) —
/// through Euler's transformation, (1 − z)^(r+x) ₂F₁(r+x, b+x; c; z) =
/// (1 − z)^(a−1) ₂F₁(a+b−1−r, a−1; c; z) with c = a+b+x−1.
pub(crate) fn expected_purchases(
    p: &BgNbdParams,
    t: f64,
    x: f64,
    recency: f64,
    age: f64,
) -> Result<f64, ClvError> {
    if t <= 0.0 {
        return Ok(0.0);
    }
    let BgNbdParams { r, alpha, a, b } = *p;
    if (a - 1.0).abs() < 1e-9 {
        return Err(ClvError::Degenerate(
            "the BG/NBD's a is 1, where the expected purchases formula is singular".into(),
        ));
    }
    let c = a + b + x - 1.0;
    let z = t / (alpha + age + t);
    let ln_1mz = (1.0 - z).ln();
    // 1 − (1 − z)^(r+x) ₂F₁(r+x, b+x; c; z). The direct series suits large a and b (its
    // terms then shrink like those of (1 − z·b/(a+b))^−(r+x)); Euler's form suits large x.
    // Whichever stays finite is used: they are the same number.
    let direct = hyp2f1(r + x, b + x, c, z)
        .ok()
        .map(|f| 1.0 - ((r + x) * ln_1mz).exp() * f)
        .filter(|v| v.is_finite());
    let bracket = match direct {
        Some(v) => v,
        None => {
            let hyp = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z).map_err(|_| {
                ClvError::Degenerate(format!(
                    "the hypergeometric series did not converge for a horizon of {t} (z = {z:.6}, r = {r}, alpha = {alpha}, a = {a}, b = {b})"
                ))
            })?;
            1.0 - ((a - 1.0) * ln_1mz).exp() * hyp
        }
    };
    let numerator = (c / (a - 1.0)) * bracket;
    let denominator = if x > 0.0 {
        1.0 + a / (b + x - 1.0) * ((r + x) * ((alpha + age).ln() - (alpha + recency).ln())).exp()
    } else {
        1.0
    };
    Ok(numerator / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> CompressedRfm {
        CompressedRfm {
            frequency: vec![0.0, 1.0, 2.0, 5.0, 0.0, 3.0],
            recency: vec![0.0, 3.0, 20.0, 30.0, 0.0, 10.0],
            age: vec![38.0, 30.0, 35.0, 36.0, 20.0, 12.0],
            weight: vec![3.0, 1.0, 1.0, 2.0, 1.0, 1.0],
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let prepared = prepare(&data());
        let theta = [(-0.8f64), 1.2, -0.3, 0.7];
        let mut g = [0.0; 4];
        objective(&theta, &prepared, 0.1, &mut g);
        for k in 0..4 {
            let h = 1e-6;
            let mut plus = theta;
            let mut minus = theta;
            plus[k] += h;
            minus[k] -= h;
            let mut scratch = [0.0; 4];
            let numeric = (objective(&plus, &prepared, 0.1, &mut scratch)
                - objective(&minus, &prepared, 0.1, &mut scratch))
                / (2.0 * h);
            assert!(
                (g[k] - numeric).abs() < 1e-7 * numeric.abs().max(1.0),
                "component {k}: analytic {} numeric {numeric}",
                g[k]
            );
        }
    }

    #[test]
    fn log_likelihood_by_hand_for_one_customer() {
        // x = 2, t_x = 20, T = 35, r = 0.5, α = 3, a = 0.8, b = 2.5: the four terms of the paper.
        let p = BgNbdParams {
            r: 0.5,
            alpha: 3.0,
            a: 0.8,
            b: 2.5,
        };
        let (x, tx, t): (f64, f64, f64) = (2.0, 20.0, 35.0);
        let beta = |u: f64, v: f64| ln_gamma(u) + ln_gamma(v) - ln_gamma(u + v);
        let common = ln_gamma(p.r + x) - ln_gamma(p.r) + p.r * p.alpha.ln();
        let l1 =
            (beta(p.a, p.b + x) - beta(p.a, p.b) + common - (p.r + x) * (p.alpha + t).ln()).exp();
        let l2 = (beta(p.a + 1.0, p.b + x - 1.0) - beta(p.a, p.b) + common
            - (p.r + x) * (p.alpha + tx).ln())
        .exp();
        let want = (l1 + l2).ln();
        let one = CompressedRfm {
            frequency: vec![x],
            recency: vec![tx],
            age: vec![t],
            weight: vec![1.0],
        };
        let got = log_likelihood(&p, &one);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn p_alive_known_values() {
        let p = BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        // No repeat purchase: alive by the model's assumption.
        assert_eq!(p_alive(&p, 0.0, 0.0, 38.86), 1.0);
        // Bought at the very end: odds a/(b+x−1) · 1.
        let just_now = p_alive(&p, 2.0, 38.86, 38.86);
        assert!((just_now - 1.0 / (1.0 + 0.793 / 3.426)).abs() < 1e-12);
        // The same x, long silent: much less likely alive; by hand from the formula.
        let silent = p_alive(&p, 2.0, 5.0, 38.86);
        let odds =
            0.793 / 3.426 * ((0.243 + 2.0) * ((4.414f64 + 38.86) / (4.414 + 5.0)).ln()).exp();
        assert!((silent - 1.0 / (1.0 + odds)).abs() < 1e-12);
        assert!(silent < 0.25 && silent > 0.0);
    }

    #[test]
    fn expected_purchases_against_the_direct_series() {
        // The paper's equation 10 with the plain ₂F₁ series, against the Euler-transformed form.
        let p = BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        for (x, tx, t_age, t) in [
            (0.0, 0.0, 38.86, 39.0),
            (2.0, 30.43, 38.86, 39.0),
            (7.0, 35.0, 38.0, 52.0),
        ] {
            let z: f64 = t / (p.alpha + t_age + t);
            let f = hyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1.0, z).unwrap();
            let direct = (p.a + p.b + x - 1.0) / (p.a - 1.0)
                * (1.0 - ((p.alpha + t_age) / (p.alpha + t_age + t)).powf(p.r + x) * f)
                / (1.0
                    + if x > 0.0 {
                        p.a / (p.b + x - 1.0) * ((p.alpha + t_age) / (p.alpha + tx)).powf(p.r + x)
                    } else {
                        0.0
                    });
            let got = expected_purchases(&p, t, x, tx, t_age).unwrap();
            assert!(
                (got - direct).abs() < 1e-10 * direct.abs(),
                "{got} vs {direct}"
            );
            assert!(got > 0.0);
        }
        // A customer with x = 0 expects fewer purchases than one who bought often and lately.
        let zero = expected_purchases(&p, 39.0, 0.0, 0.0, 38.86).unwrap();
        let busy = expected_purchases(&p, 39.0, 7.0, 38.0, 38.86).unwrap();
        assert!(zero < busy);
    }

    #[test]
    fn expected_purchases_stay_finite_at_the_edges() {
        // A fit at the edge where a and b run off together (seen on the bundled sample): the
        // Euler form overflows there, the direct series does not.
        let edge = BgNbdParams {
            r: 0.3356,
            alpha: 2.0924,
            a: 233_874.6,
            b: 5_825_294.7,
        };
        let mut previous = 0.0;
        for months in 1..=12 {
            let e = expected_purchases(&edge, 4.35 * months as f64, 5.0, 30.0, 40.0).unwrap();
            assert!(e.is_finite() && e > previous, "{months}: {e}");
            previous = e;
        }
        // A huge x overflows the direct series; Euler's form takes over.
        let cdnow = BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        // It bought at the very end of the period, so it is alive and keeps its pace.
        let busy = expected_purchases(&cdnow, 39.0, 2000.0, 38.86, 38.86).unwrap();
        assert!(busy.is_finite() && busy > 500.0, "{busy}");
    }

    #[test]
    fn fit_recovers_simulated_parameters() {
        // Simulate the BG/NBD itself and refit: the estimates land near the truth.
        let truth = BgNbdParams {
            r: 0.5,
            alpha: 6.0,
            a: 0.7,
            b: 2.5,
        };
        let rfm = super::super::simulate::bgnbd_rfm(&truth, 40_000, 40.0, 7);
        let fit = fit(&rfm, 0.0).unwrap();
        let got = fit.params.as_array();
        let want = truth.as_array();
        for k in 0..4 {
            assert!(
                (got[k] - want[k]).abs() < 0.15 * want[k],
                "parameter {k}: {} vs {}",
                got[k],
                want[k]
            );
        }
        let se = fit.std_errors.unwrap();
        assert!(se.iter().all(|s| *s > 0.0 && s.is_finite()));
    }

    #[test]
    fn no_repeat_purchases_is_an_error() {
        let rfm = CompressedRfm {
            frequency: vec![0.0, 0.0],
            recency: vec![0.0, 0.0],
            age: vec![3.0, 4.0],
            weight: vec![1.0, 1.0],
        };
        assert!(matches!(fit(&rfm, 0.0), Err(ClvError::NoRepeatPurchases)));
    }
}
