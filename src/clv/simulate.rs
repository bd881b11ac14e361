//! Draws RFM summaries from the BG/NBD and Gamma-Gamma models themselves: the ground truth
//! for the recovery tests and the generated million-customer benchmark. Seeded, so the same
//! seed gives the same customers.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::bgnbd::BgNbdParams;
#[cfg(test)]
use super::gamma_gamma::GammaGammaParams;
use super::rfm::CompressedRfm;

/// Gamma(shape, rate) by Marsaglia & Tsang (shape < 1 through the u^(1/shape) boost).
fn gamma(rng: &mut impl Rng, shape: f64, rate: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
        return gamma(rng, shape + 1.0, rate) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (x, v) = loop {
            let x = normal(rng);
            let v = 1.0 + c * x;
            if v > 0.0 {
                break (x, v * v * v);
            }
        };
        let u: f64 = rng.gen();
        if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v / rate;
        }
    }
}

fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn beta(rng: &mut impl Rng, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a, 1.0);
    let y = gamma(rng, b, 1.0);
    x / (x + y)
}

/// `n` customers observed for `age` weeks each (ages spread uniformly over [age/2, age], like
/// a cohort acquired over a quarter), one row per customer, times rounded to whole days as
/// dated purchases are.
pub(crate) fn bgnbd_rfm(p: &BgNbdParams, n: usize, age: f64, seed: u64) -> CompressedRfm {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = CompressedRfm {
        frequency: Vec::with_capacity(n),
        recency: Vec::with_capacity(n),
        age: Vec::with_capacity(n),
        weight: vec![1.0; n],
    };
    for _ in 0..n {
        let lambda = gamma(&mut rng, p.r, p.alpha);
        let dropout = beta(&mut rng, p.a, p.b);
        let customer_age = age * (0.5 + 0.5 * rng.gen::<f64>());
        let (mut t, mut x, mut last) = (0.0, 0.0, 0.0);
        loop {
            let u: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
            t += -u.ln() / lambda;
            if t > customer_age {
                break;
            }
            x += 1.0;
            last = t;
            if rng.gen::<f64>() < dropout {
                break;
            }
        }
        // Purchases are dated by day: times are whole days (in weeks, multiples of 1/7).
        let day = |weeks: f64| (weeks * 7.0).round() / 7.0;
        out.frequency.push(x);
        out.recency.push(day(last).min(day(customer_age)));
        out.age.push(day(customer_age).max(1.0 / 7.0));
    }
    out
}

#[cfg(test)]
/// A mean repeat-purchase value for each frequency in `frequency` (0 for x = 0) from the
/// Gamma-Gamma model.
pub(crate) fn gamma_gamma_values(p: &GammaGammaParams, frequency: &[f64], seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    frequency
        .iter()
        .map(|&x| {
            if x <= 0.0 {
                return 0.0;
            }
            let nu = gamma(&mut rng, p.q, p.v);
            let n = x as usize;
            (0..n).map(|_| gamma(&mut rng, p.p, nu)).sum::<f64>() / n as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_draws_have_the_right_mean_and_variance() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        for (shape, rate) in [(0.3, 2.0), (4.0, 0.5)] {
            let draws: Vec<f64> = (0..200_000).map(|_| gamma(&mut rng, shape, rate)).collect();
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64;
            assert!((mean - shape / rate).abs() < 0.02 * shape / rate, "{mean}");
            assert!(
                (var - shape / (rate * rate)).abs() < 0.05 * shape / (rate * rate),
                "{var}"
            );
        }
    }

    #[test]
    fn same_seed_same_customers() {
        let p = BgNbdParams {
            r: 0.3,
            alpha: 4.0,
            a: 0.8,
            b: 2.4,
        };
        assert_eq!(bgnbd_rfm(&p, 100, 39.0, 3), bgnbd_rfm(&p, 100, 39.0, 3));
    }
}
