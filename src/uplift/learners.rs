//! Meta-learners of per-customer effects from a randomized test, on fluz's own gradient
//! boosting and random forest (`learn/`).
//!
//! Every learner gives, for every row (training and test), the expected outcome under each arm
//! `μ_a(x)`; the effect of arm `a` is `μ_a(x) − μ_0(x)` (arm 0 is the control).
//!
//! - Base learner: chosen from a small grid by the cross-fitted outcome loss of the per-arm
//!   outcome models (`Σ (y − μ̂_{A_i}(x_i))²` over the training rows, each predicted by the models
//!   of the other folds).
//! - **T**: one outcome model per arm. Training rows get the out-of-fold prediction, test rows
//!   the mean of the fold models.
//! - **X** (Künzel et al.): imputed effects `y − μ̂_0(x)` on arm-`a` rows and `μ̂_a(x) − y` on
//!   control rows, each regressed on the features, combined as `g·τ̂_0 + (1 − g)·τ̂_a` with
//!   `g = e_a / (e_a + e_0)` (causalml's weighting by the propensity).
//! - **DR** (Kennedy): AIPW pseudo-outcomes
//!   `μ̂_a − μ̂_0 + 1[A=a](y − μ̂_a)/e_a − 1[A=0](y − μ̂_0)/e_0` (cross-fitted `μ̂`) regressed on the
//!   features over every training row.
//! - **R** (pooled, linear in the rate): `y = b_0(x) + b(x)·r`, one slope from all arms instead
//!   of one arm's share; `μ_a(x) = m̂(x) + b̂(x)(r_a − r̄)` with `m̂ = E[y|x]` cross-fitted and
//!   `r̄` the design's mean rate. `b̂` minimises the weighted R-loss
//!   `Σ (ỹ_i − b(x_i) r̃_i)² / σ̂²(x_i)` (`ỹ = y − m̂(x)`, `r̃ = r_A − r̄`), i.e. weighted least squares
//!   of `ỹ/r̃` with weights `r̃²/σ̂²(x)`: a slope is learnt from the rows whose rate is far from the
//!   mean and whose outcome is not noise. `σ̂²(x)` is the base learner's cross-fitted regression
//!   of `ỹ²` (floored at 5 % of its mean): on spend the noise variance differs a hundredfold
//!   between customers, and unweighted, the slope's trees chase the noise of the noisiest.
//!   Any positive weight that is a function of `x` leaves the minimiser `b(x)` unchanged; it
//!   only changes the estimate's variance. The slope model is fluz's gradient boosting
//!   (learning rate 0.1) of depth 1, 2 or 3 with 25, 50, 100 or 200 rounds, the one of lowest
//!   cross-fitted weighted R-loss over the folds. Needs at least two distinct rates.
//!
//! Propensities `e_a` are the design's arm shares. Every fit takes a seed derived from the
//! configured seed and its role, so results do not depend on the thread count.

use rayon::prelude::*;

use crate::learn::boosting::{fit_boosting, fit_boosting_weighted, BoostingParams};
use crate::learn::cart::{MaxFeatures, TreeParams};
use crate::learn::forest::{fit_forest, ForestParams};
use crate::learn::matrix::Matrix;
use crate::learn::tree::sum_trees;

/// A base learner of the grid.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum BaseSpec {
    Boosting { rounds: usize, depth: usize },
    Forest { trees: usize, min_leaf: usize },
}

impl BaseSpec {
    /// The base learners to choose from: boosting of `trees` rounds at each depth, then a
    /// forest of `trees` trees at each minimum leaf size.
    pub(crate) fn grid(
        trees: usize,
        boosting_depths: &[usize],
        forest_min_leaf: &[usize],
    ) -> Vec<Self> {
        let boosting = boosting_depths.iter().map(|&depth| BaseSpec::Boosting {
            rounds: trees,
            depth,
        });
        let forest = forest_min_leaf
            .iter()
            .map(|&min_leaf| BaseSpec::Forest { trees, min_leaf });
        boosting.chain(forest).collect()
    }

    pub(crate) fn name(&self) -> String {
        match self {
            BaseSpec::Boosting { rounds, depth } => {
                format!("gradient_boosting(rounds={rounds}, depth={depth}, lr=0.1)")
            }
            BaseSpec::Forest { trees, min_leaf } => {
                format!("random_forest(trees={trees}, min_samples_leaf={min_leaf})")
            }
        }
    }

    /// Fits on `(x, y)` and predicts every matrix of `evals`.
    pub(crate) fn fit_predict(
        &self,
        x: &Matrix,
        y: &[f64],
        evals: &[&Matrix],
        seed: u64,
    ) -> Vec<Vec<f64>> {
        if x.n_rows == 0 {
            return evals.iter().map(|m| vec![0.0; m.n_rows]).collect();
        }
        match self {
            BaseSpec::Boosting { rounds, depth } => {
                let params = BoostingParams {
                    n_rounds: *rounds,
                    learning_rate: 0.1,
                    max_depth: *depth,
                    lambda: 1.0,
                    min_child_weight: 10.0,
                    subsample: 0.8,
                    max_bins: 64,
                };
                let model = fit_boosting(x, y, &params, seed);
                evals.iter().map(|m| model.predict(m)).collect()
            }
            BaseSpec::Forest { trees, min_leaf } => {
                let params = ForestParams {
                    n_trees: *trees,
                    tree: TreeParams {
                        max_depth: None,
                        min_samples_leaf: *min_leaf,
                        min_samples_split: 2 * *min_leaf,
                        max_features: MaxFeatures::Fraction(0.33),
                        max_bins: 64,
                    },
                    bootstrap: true,
                };
                let model = fit_forest(x, y, &params, seed);
                evals.iter().map(|m| model.predict(m)).collect()
            }
        }
    }
}

/// The meta-learners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Learner {
    T,
    X,
    Dr,
    R,
}

impl Learner {
    pub fn name(self) -> &'static str {
        match self {
            Learner::T => "t_learner",
            Learner::X => "x_learner",
            Learner::Dr => "dr_learner",
            Learner::R => "r_learner",
        }
    }
}

/// A randomized test, ready to learn from.
pub(crate) struct Design<'a> {
    /// Features of every row.
    pub x: &'a Matrix,
    /// Arm per row (0 = control).
    pub arm: &'a [usize],
    /// Outcome per row.
    pub y: &'a [f64],
    /// Training rows (ascending) and their cross-fitting fold.
    pub train: &'a [usize],
    pub fold: &'a [usize],
    /// Rate of each arm.
    pub rates: &'a [f64],
    /// Design propensity of each arm (its share of the rows).
    pub propensity: &'a [f64],
}

/// Settings of [`fit`].
#[derive(Clone, Debug)]
pub(crate) struct FitParams {
    pub n_folds: usize,
    pub grid: Vec<BaseSpec>,
    pub learners: Vec<Learner>,
    pub seed: u64,
}

/// One learner's predictions: `mu[a][row]` for every row of the design.
#[derive(Clone, Debug)]
pub(crate) struct LearnerFit {
    pub learner: Learner,
    pub mu: Vec<Vec<f64>>,
}

/// What [`fit`] returns.
#[derive(Clone, Debug)]
pub(crate) struct Fitted {
    /// Cross-fitted outcome loss (mean squared error) of each grid point.
    pub grid_loss: Vec<(BaseSpec, f64)>,
    pub base: BaseSpec,
    /// The chosen base learner's cross-fitted per-arm outcome models, `[arm][row]` (the
    /// T-learner's predictions; the evaluation's value model).
    pub outcome_mu: Vec<Vec<f64>>,
    /// The requested learners that apply (R needs two distinct rates; never empty: the
    /// T-learner stands in).
    pub learners: Vec<LearnerFit>,
}

impl Fitted {
    /// Every prediction multiplied by its row's `scale` (a fit on `y / scale` back in `y`'s
    /// units; the grid losses stay on the fitted scale).
    pub(crate) fn scaled(mut self, scale: &[f64]) -> Self {
        let rescale = |mu: &mut Vec<Vec<f64>>| {
            for arm in mu.iter_mut() {
                for (v, s) in arm.iter_mut().zip(scale) {
                    *v *= s;
                }
            }
        };
        rescale(&mut self.outcome_mu);
        for fit in &mut self.learners {
            rescale(&mut fit.mu);
        }
        self
    }
}

fn seed_for(seed: u64, parts: &[u64]) -> u64 {
    let mut s = seed;
    for &p in parts {
        s = crate::learn::cart::derive_seed(s, p);
    }
    s
}

/// Cross-fitted predictions of a model of `y` fitted on the training rows selected by `keep`:
/// out-of-fold on training rows, the fold models' mean elsewhere.
fn cross_fit(
    design: &Design,
    spec: &BaseSpec,
    n_folds: usize,
    keep: &(dyn Fn(usize) -> bool + Sync),
    target: &[f64],
    seed: u64,
) -> Vec<f64> {
    let n = design.x.n_rows;
    let mut in_train = vec![usize::MAX; n];
    for (&row, &fold) in design.train.iter().zip(design.fold) {
        in_train[row] = fold;
    }
    let outside: Vec<usize> = (0..n).filter(|&i| in_train[i] == usize::MAX).collect();
    let x_outside = design.x.select_rows(&outside);
    let per_fold: Vec<(Vec<usize>, Vec<f64>, Vec<f64>)> = (0..n_folds)
        .into_par_iter()
        .map(|k| {
            let fit_rows: Vec<usize> = design
                .train
                .iter()
                .zip(design.fold)
                .filter(|&(&row, &f)| f != k && keep(row))
                .map(|(&row, _)| row)
                .collect();
            let held: Vec<usize> = design
                .train
                .iter()
                .zip(design.fold)
                .filter(|&(_, &f)| f == k)
                .map(|(&row, _)| row)
                .collect();
            let x_fit = design.x.select_rows(&fit_rows);
            let y_fit: Vec<f64> = fit_rows.iter().map(|&i| target[i]).collect();
            let x_held = design.x.select_rows(&held);
            let mut predicted = spec.fit_predict(
                &x_fit,
                &y_fit,
                &[&x_held, &x_outside],
                seed_for(seed, &[k as u64]),
            );
            let outside_pred = predicted.pop().expect("two");
            let held_pred = predicted.pop().expect("two");
            (held, held_pred, outside_pred)
        })
        .collect();
    let mut out = vec![0.0; n];
    for (held, held_pred, outside_pred) in per_fold {
        for (&row, value) in held.iter().zip(held_pred) {
            out[row] = value;
        }
        for (&row, value) in outside.iter().zip(outside_pred) {
            out[row] += value / n_folds as f64;
        }
    }
    out
}

/// A model of `target` fitted on the training rows `rows`, predicting every row.
fn fit_all(
    design: &Design,
    spec: &BaseSpec,
    rows: &[usize],
    target: &[f64],
    seed: u64,
) -> Vec<f64> {
    let x_fit = design.x.select_rows(rows);
    let y_fit: Vec<f64> = rows.iter().map(|&i| target[i]).collect();
    spec.fit_predict(&x_fit, &y_fit, &[design.x], seed)
        .pop()
        .expect("one")
}

/// The per-arm cross-fitted outcome models of `spec`: `mu[a][row]`.
fn outcome_models(design: &Design, spec: &BaseSpec, n_folds: usize, seed: u64) -> Vec<Vec<f64>> {
    (0..design.rates.len())
        .into_par_iter()
        .map(|a| {
            cross_fit(
                design,
                spec,
                n_folds,
                &|row| design.arm[row] == a,
                design.y,
                seed_for(seed, &[1, a as u64]),
            )
        })
        .collect()
}

/// Depths of the R-learner's slope models; each is grown to the largest of
/// [`SLOPE_ROUNDS`] and its prefixes are the other grid points.
const SLOPE_DEPTHS: [usize; 3] = [1, 2, 3];
const SLOPE_ROUNDS: [usize; 4] = [25, 50, 100, 200];
/// The variance model's floor, as a fraction of the mean squared residual (a variance model
/// near 0 would give a few rows all the weight).
const VARIANCE_FLOOR: f64 = 0.05;

fn slope_params(depth: usize, rounds: usize) -> BoostingParams {
    BoostingParams {
        n_rounds: rounds,
        learning_rate: 0.1,
        max_depth: depth,
        lambda: 1.0,
        min_child_weight: 10.0,
        subsample: 0.8,
        max_bins: 64,
    }
}

/// The R-learner's `mu[a][row]`: `m̂(x) + b̂(x)(r_a − r̄)`, with `b̂` the weighted R-loss fit
/// (see the module's documentation).
fn r_learner(design: &Design, base: &BaseSpec, n_folds: usize, seed: u64) -> Vec<Vec<f64>> {
    let n = design.x.n_rows;
    let mean_rate: f64 = design
        .rates
        .iter()
        .zip(design.propensity)
        .map(|(r, e)| r * e)
        .sum();
    let m = cross_fit(
        design,
        base,
        n_folds,
        &|_| true,
        design.y,
        seed_for(seed, &[1]),
    );
    // Noise variance of the outcome given the features: the base learner's cross-fitted
    // regression of the squared residual.
    let squared: Vec<f64> = (0..n).map(|i| (design.y[i] - m[i]).powi(2)).collect();
    let variance = cross_fit(
        design,
        base,
        n_folds,
        &|_| true,
        &squared,
        seed_for(seed, &[3]),
    );
    let n_train = design.train.len().max(1) as f64;
    let mean_squared = design.train.iter().map(|&i| squared[i]).sum::<f64>() / n_train;
    let floor = VARIANCE_FLOOR * mean_squared;
    // R-loss Σ (ỹ − b(x) r̃)² / σ̂²(x) = Σ w (ỹ/r̃ − b(x))² with w = r̃²/σ̂²(x).
    let mut pseudo = vec![0.0; n];
    let mut weight = vec![0.0; n];
    for &i in design.train {
        let centred_rate = design.rates[design.arm[i]] - mean_rate;
        if centred_rate != 0.0 {
            pseudo[i] = (design.y[i] - m[i]) / centred_rate;
            weight[i] = centred_rate * centred_rate
                / if floor > 0.0 {
                    variance[i].max(floor)
                } else {
                    1.0
                };
        }
    }
    let mean_weight = design.train.iter().map(|&i| weight[i]).sum::<f64>() / n_train;
    if mean_weight > 0.0 {
        for w in &mut weight {
            *w /= mean_weight;
        }
    }
    // The slope model's size by its cross-fitted weighted R-loss; ties go to the smaller.
    let largest = SLOPE_ROUNDS[SLOPE_ROUNDS.len() - 1];
    let losses: Vec<Vec<f64>> = SLOPE_DEPTHS
        .par_iter()
        .map(|&depth| {
            let mut loss = vec![0.0; SLOPE_ROUNDS.len()];
            for k in 0..n_folds {
                let in_fold = |f: &usize| *f == k;
                let rows = |held: bool| -> Vec<usize> {
                    design
                        .train
                        .iter()
                        .zip(design.fold)
                        .filter(|&(_, f)| in_fold(f) == held)
                        .map(|(&row, _)| row)
                        .collect()
                };
                let (fit_rows, held) = (rows(false), rows(true));
                let pick = |v: &[f64], rows: &[usize]| -> Vec<f64> {
                    rows.iter().map(|&i| v[i]).collect()
                };
                let model = fit_boosting_weighted(
                    &design.x.select_rows(&fit_rows),
                    &pick(&pseudo, &fit_rows),
                    &pick(&weight, &fit_rows),
                    &slope_params(depth, largest),
                    seed_for(seed, &[4, depth as u64, k as u64]),
                );
                let x_held = design.x.select_rows(&held);
                for (g, &rounds) in SLOPE_ROUNDS.iter().enumerate() {
                    let predicted = sum_trees(&model.trees[..rounds], &x_held);
                    loss[g] += held
                        .iter()
                        .zip(&predicted)
                        .map(|(&i, p)| weight[i] * (pseudo[i] - model.base_score - p).powi(2))
                        .sum::<f64>();
                }
            }
            loss
        })
        .collect();
    let (depth, rounds) = SLOPE_DEPTHS
        .iter()
        .zip(&losses)
        .flat_map(|(&d, l)| SLOPE_ROUNDS.iter().zip(l).map(move |(&r, &v)| (d, r, v)))
        .fold(
            None,
            |best: Option<(usize, usize, f64)>, (d, r, v)| match best {
                Some((_, _, b)) if b <= v => best,
                _ => Some((d, r, v)),
            },
        )
        .map(|(d, r, _)| (d, r))
        .expect("a non-empty slope grid");
    let slope = fit_boosting_weighted(
        &design.x.select_rows(design.train),
        &design.train.iter().map(|&i| pseudo[i]).collect::<Vec<_>>(),
        &design.train.iter().map(|&i| weight[i]).collect::<Vec<_>>(),
        &slope_params(depth, rounds),
        seed_for(seed, &[2]),
    )
    .predict(design.x);
    design
        .rates
        .iter()
        .map(|&r| {
            m.iter()
                .zip(&slope)
                .map(|(m, b)| m + b * (r - mean_rate))
                .collect()
        })
        .collect()
}

/// Fits the base-learner grid and every requested learner.
pub(crate) fn fit(design: &Design, params: &FitParams) -> Fitted {
    let n_arms = design.rates.len();
    let n_train = design.train.len().max(1) as f64;
    let candidates: Vec<(Vec<Vec<f64>>, f64)> = params
        .grid
        .iter()
        .map(|spec| {
            let mu = outcome_models(design, spec, params.n_folds, params.seed);
            let loss = design
                .train
                .iter()
                .map(|&i| (design.y[i] - mu[design.arm[i]][i]).powi(2))
                .sum::<f64>()
                / n_train;
            (mu, loss)
        })
        .collect();
    let best = candidates
        .iter()
        .enumerate()
        .min_by(|(ia, a), (ib, b)| a.1.total_cmp(&b.1).then(ia.cmp(ib)))
        .map(|(i, _)| i)
        .expect("a non-empty grid");
    let grid_loss: Vec<(BaseSpec, f64)> = params
        .grid
        .iter()
        .cloned()
        .zip(candidates.iter().map(|c| c.1))
        .collect();
    let base = params.grid[best].clone();
    let mu_t = candidates.into_iter().nth(best).expect("best").0;
    let n = design.x.n_rows;
    let distinct_rates = {
        let mut rates = design.rates.to_vec();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        rates.len()
    };

    let mut applicable: Vec<Learner> = params
        .learners
        .iter()
        .copied()
        .filter(|&l| l != Learner::R || distinct_rates >= 2)
        .collect();
    if applicable.is_empty() {
        applicable.push(Learner::T);
    }
    let learners: Vec<LearnerFit> = applicable
        .iter()
        .map(|&learner| {
            let seed = seed_for(params.seed, &[10 + learner as u64]);
            let mu = match learner {
                Learner::T => mu_t.clone(),
                Learner::Dr => {
                    let mut mu = vec![mu_t[0].clone()];
                    let effects: Vec<Vec<f64>> = (1..n_arms)
                        .into_par_iter()
                        .map(|a| {
                            let (e_a, e_0) = (design.propensity[a], design.propensity[0]);
                            let mut pseudo = vec![0.0; n];
                            for &i in design.train {
                                let y = design.y[i];
                                let mut value = mu_t[a][i] - mu_t[0][i];
                                if design.arm[i] == a {
                                    value += (y - mu_t[a][i]) / e_a;
                                } else if design.arm[i] == 0 {
                                    value -= (y - mu_t[0][i]) / e_0;
                                }
                                pseudo[i] = value;
                            }
                            fit_all(
                                design,
                                &base,
                                design.train,
                                &pseudo,
                                seed_for(seed, &[a as u64]),
                            )
                        })
                        .collect();
                    for tau in effects {
                        mu.push(mu_t[0].iter().zip(&tau).map(|(m, t)| m + t).collect());
                    }
                    mu
                }
                Learner::X => {
                    let mut mu = vec![mu_t[0].clone()];
                    let effects: Vec<Vec<f64>> = (1..n_arms)
                        .into_par_iter()
                        .map(|a| {
                            let treated: Vec<usize> = design
                                .train
                                .iter()
                                .copied()
                                .filter(|&i| design.arm[i] == a)
                                .collect();
                            let control: Vec<usize> = design
                                .train
                                .iter()
                                .copied()
                                .filter(|&i| design.arm[i] == 0)
                                .collect();
                            let mut imputed = vec![0.0; n];
                            for &i in &treated {
                                imputed[i] = design.y[i] - mu_t[0][i];
                            }
                            for &i in &control {
                                imputed[i] = mu_t[a][i] - design.y[i];
                            }
                            let tau_t = fit_all(
                                design,
                                &base,
                                &treated,
                                &imputed,
                                seed_for(seed, &[a as u64, 1]),
                            );
                            let tau_c = fit_all(
                                design,
                                &base,
                                &control,
                                &imputed,
                                seed_for(seed, &[a as u64, 2]),
                            );
                            let (e_a, e_0) = (design.propensity[a], design.propensity[0]);
                            let g = e_a / (e_a + e_0);
                            tau_c
                                .iter()
                                .zip(&tau_t)
                                .map(|(c, t)| g * c + (1.0 - g) * t)
                                .collect()
                        })
                        .collect();
                    for tau in effects {
                        mu.push(mu_t[0].iter().zip(&tau).map(|(m, t)| m + t).collect());
                    }
                    mu
                }
                Learner::R => r_learner(design, &base, params.n_folds, seed),
            };
            LearnerFit { learner, mu }
        })
        .collect();
    Fitted {
        grid_loss,
        base,
        outcome_mu: mu_t,
        learners,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// A three-arm rate test on `n` rows with two features: `y = 10 + 5 x0 + τ(x)·r/0.05 +
    /// noise`, arm by row index. Returns the design's pieces.
    fn generated(
        n: usize,
        tau: impl Fn(&[f64]) -> f64,
    ) -> (Matrix, Vec<usize>, Vec<f64>, Vec<usize>, Vec<usize>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let rates = [0.0, 0.02, 0.05];
        let mut data = Vec::new();
        let mut arm = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let row = [rng.gen::<f64>(), rng.gen::<f64>()];
            let a = i % 3;
            let noise: f64 = rng.gen::<f64>() - 0.5;
            y.push(10.0 + 5.0 * row[0] + tau(&row) * rates[a] / 0.05 + noise);
            data.extend_from_slice(&row);
            arm.push(a);
        }
        let train: Vec<usize> = (0..n).filter(|i| i % 5 != 0).collect();
        let fold: Vec<usize> = train.iter().map(|i| (i / 3) % 3).collect();
        (Matrix::new(n, 2, data), arm, y, train, fold)
    }

    fn check(tau: impl Fn(&[f64]) -> f64 + Copy, tolerance: f64) {
        let n = 6000;
        let (x, arm, y, train, fold) = generated(n, tau);
        let rates = [0.0, 0.02, 0.05];
        let propensity = [1.0 / 3.0; 3];
        let design = Design {
            x: &x,
            arm: &arm,
            y: &y,
            train: &train,
            fold: &fold,
            rates: &rates,
            propensity: &propensity,
        };
        let fitted = fit(
            &design,
            &FitParams {
                n_folds: 3,
                grid: vec![BaseSpec::Boosting {
                    rounds: 100,
                    depth: 3,
                }],
                learners: vec![Learner::T, Learner::X, Learner::Dr, Learner::R],
                seed: 1,
            },
        );
        assert_eq!(fitted.learners.len(), 4);
        let test: Vec<usize> = (0..n).filter(|i| i % 5 == 0).collect();
        for learner in &fitted.learners {
            // Mean absolute error of the 5%-arm effect on the test rows.
            let error = test
                .iter()
                .map(|&i| {
                    let truth = tau(x.row(i));
                    ((learner.mu[2][i] - learner.mu[0][i]) - truth).abs()
                })
                .sum::<f64>()
                / test.len() as f64;
            assert!(
                error < tolerance,
                "{}: mean abs error {error}",
                learner.learner.name()
            );
        }
    }

    /// Spend whose scale varies 100-fold between customers (a pre-test size s) with a
    /// multiplicative effect `y = s·(1 + β(x)·r)·noise`: fitting `y / s` and scaling back
    /// (what `[offers] baseline` does) recovers the effect better than fitting raw spend.
    #[test]
    fn a_baseline_helps_on_multiplicative_spend() {
        let n = 6000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let rates = [0.0, 0.02, 0.05];
        let (mut data, mut arm, mut y, mut size) = (vec![], vec![], vec![], vec![]);
        let beta = |row: &[f64]| 4.0 + 16.0 * row[1];
        for i in 0..n {
            let s = 10f64.powf(2.0 * rng.gen::<f64>());
            let row = [s.log10(), rng.gen::<f64>()];
            let a = i % 3;
            let noise = 0.7 + 0.6 * rng.gen::<f64>();
            y.push(s * (1.0 + beta(&row) * rates[a]) * noise);
            data.extend_from_slice(&row);
            arm.push(a);
            size.push(s);
        }
        let x = Matrix::new(n, 2, data);
        let train: Vec<usize> = (0..n).filter(|i| i % 5 != 0).collect();
        let fold: Vec<usize> = train.iter().map(|i| (i / 3) % 3).collect();
        let propensity = [1.0 / 3.0; 3];
        let relative: Vec<f64> = y.iter().zip(&size).map(|(v, s)| v / s).collect();
        let params = FitParams {
            n_folds: 3,
            grid: vec![BaseSpec::Boosting {
                rounds: 100,
                depth: 3,
            }],
            learners: vec![Learner::T, Learner::R],
            seed: 1,
        };
        let design = |y: &'_ [f64]| -> Fitted {
            fit(
                &Design {
                    x: &x,
                    arm: &arm,
                    y,
                    train: &train,
                    fold: &fold,
                    rates: &rates,
                    propensity: &propensity,
                },
                &params,
            )
        };
        let raw = design(&y);
        let scaled = design(&relative).scaled(&size);
        let test: Vec<usize> = (0..n).filter(|i| i % 5 == 0).collect();
        // Relative error of the 5% arm's effect, s·β·0.05 in truth.
        let error = |fit: &LearnerFit| {
            test.iter()
                .map(|&i| {
                    let truth = size[i] * beta(x.row(i)) * 0.05;
                    ((fit.mu[2][i] - fit.mu[0][i]) - truth).abs() / size[i]
                })
                .sum::<f64>()
                / test.len() as f64
        };
        for (r, s) in raw.learners.iter().zip(&scaled.learners) {
            let (e_raw, e_scaled) = (error(r), error(s));
            assert!(
                e_scaled < 0.7 * e_raw,
                "{}: relative effect error {e_scaled} with the baseline vs {e_raw} without",
                r.learner.name()
            );
        }
        // Scaling multiplies every prediction by its row's size.
        let back = design(&relative);
        assert_eq!(
            back.learners[0].mu[1][7] * size[7],
            scaled.learners[0].mu[1][7]
        );
    }

    #[test]
    fn learners_recover_a_constant_effect() {
        check(|_| 2.0, 0.35);
    }

    #[test]
    fn learners_recover_a_heterogeneous_effect() {
        // τ from 0 to 4 with x1; a no-skill model (the mean, 2) has mean abs error 1.
        check(|row| 4.0 * row[1], 0.5);
    }
}
