//! Learning the response to offers from a randomized test: meta-learners of per-customer
//! effects (`learners`), Qini / AUUC (`metrics`), off-policy values and the honest choice
//! between a personalised policy and the best single arm (`policy`), a simulated rate test
//! with a known truth (`simulate`), the study's inputs beside the log (`inputs`) and the
//! stage's tables (`tables`).
//!
//! [`study`] learns from a validated log, a hash split and plain settings, and returns every
//! table's rows; [`analysis::analyse`], the entry point of `fluz uplift`, splits the log and
//! builds the tables around it. Neither sees the config or a store.

pub(crate) mod analysis;
pub(crate) mod inputs;
pub(crate) mod learners;
pub(crate) mod metrics;
pub(crate) mod policy;
pub(crate) mod simulate;
pub(crate) mod tables;

use crate::learn::matrix::Matrix;
use crate::sources::offers::OfferLog;
use learners::{BaseSpec, Design, FitParams, Learner};
use policy::{Choice, Evaluation, Gain, PolicyValue};

/// Settings of a study.
#[derive(Clone, Debug)]
pub(crate) struct StudyParams {
    pub n_folds: usize,
    pub grid: Vec<BaseSpec>,
    pub learners: Vec<Learner>,
    pub seed: u64,
    pub bootstrap: usize,
    /// The money outcome: its policies maximise profit `(m − r)·spend − cost`.
    pub spend_outcome: String,
    /// Points of each stored Qini curve.
    pub curve_points: usize,
    /// A positive pre-test scale per row for the money outcome: the learners fit
    /// `spend / baseline` and their predictions are multiplied back (`None` = raw spend).
    pub baseline: Option<Vec<f64>>,
}

/// What is known beyond the log.
#[derive(Clone, Debug, Default)]
pub(crate) struct Extras {
    /// True expected profit of each arm per log row (`[arm][row]`), on a simulated log.
    pub true_profit: Option<Vec<Vec<f64>>>,
    /// Today's oracle-label regression as an arm per log row (its tier snapped to the nearest
    /// arm), when `cashback_predictions` exists.
    pub oracle_label_policy: Option<Vec<usize>>,
}

/// One row of `uplift_metrics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MetricRow {
    pub learner: String,
    pub outcome: String,
    pub arm: String,
    pub qini: Option<f64>,
    pub auuc: Option<f64>,
    pub value: Option<PolicyValue>,
    pub gain: Option<Gain>,
    pub true_value: Option<f64>,
    pub regret_pct: Option<f64>,
    pub detail: Option<String>,
}

/// One point of `uplift_curve`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CurvePoint {
    pub learner: String,
    pub outcome: String,
    pub arm: String,
    pub fraction: f64,
    pub gain: f64,
}

/// The result for one outcome.
#[derive(Clone, Debug)]
pub(crate) struct OutcomeStudy {
    pub outcome: String,
    pub base: BaseSpec,
    pub grid_loss: Vec<(BaseSpec, f64)>,
    pub metrics: Vec<MetricRow>,
    pub curves: Vec<CurvePoint>,
    /// The learner whose predictions are reported (the candidate with the best DR gain).
    pub reported_learner: Learner,
    /// `[arm][row]` expected outcome of the reported learner, every row of the log (at least 0
    /// for the money outcome).
    pub expected: Vec<Vec<f64>>,
    /// `[arm][row]` expected value (profit for the money outcome) of the reported learner.
    pub values: Vec<Vec<f64>>,
    /// The recommended arm per row.
    pub recommended: Vec<usize>,
    /// The choice in words.
    pub summary: String,
    /// The chosen policy, short: `everyone <arm>` or `personalised (<learner>)`.
    pub policy: String,
}

/// The design's arm shares.
pub(crate) fn arm_shares(log: &OfferLog) -> Vec<f64> {
    let n = log.len().max(1) as f64;
    log.arm_counts().iter().map(|&c| c as f64 / n).collect()
}

/// Learns, evaluates and chooses, outcome by outcome. `test[i]` marks held-out rows, `fold[i]`
/// the cross-fitting fold of training rows.
pub(crate) fn study(
    log: &OfferLog,
    test: &[bool],
    fold: &[usize],
    extras: &Extras,
    params: &StudyParams,
) -> Vec<OutcomeStudy> {
    let n = log.len();
    let x = Matrix::from_columns(
        &log.features
            .iter()
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>(),
    );
    let x = if x.n_cols == 0 {
        // No features: one constant column (every learner degenerates to arm means).
        Matrix::new(n, 1, vec![0.0; n])
    } else {
        x
    };
    let train: Vec<usize> = (0..n).filter(|&i| !test[i]).collect();
    let train_fold: Vec<usize> = train.iter().map(|&i| fold[i]).collect();
    let test_rows: Vec<usize> = (0..n).filter(|&i| test[i]).collect();
    let rates: Vec<f64> = log.arms.iter().map(|a| a.rate).collect();
    let propensity = arm_shares(log);
    log.outcomes
        .iter()
        .enumerate()
        .map(|(o, (outcome, y))| {
            // The money outcome relative to its baseline: the rate's effect is multiplicative
            // (1 + β r), so relative spend has one scale for every customer.
            let scale = params
                .baseline
                .as_ref()
                .filter(|_| *outcome == params.spend_outcome);
            let relative: Option<Vec<f64>> =
                scale.map(|b| y.iter().zip(b).map(|(v, b)| v / b).collect());
            let design = Design {
                x: &x,
                arm: &log.arm,
                y: relative.as_deref().unwrap_or(y),
                train: &train,
                fold: &train_fold,
                rates: &rates,
                propensity: &propensity,
            };
            let fitted = learners::fit(
                &design,
                &FitParams {
                    n_folds: params.n_folds,
                    grid: params.grid.clone(),
                    learners: params.learners.clone(),
                    seed: learn_seed(params.seed, o),
                },
            );
            let fitted = match scale {
                Some(b) => fitted.scaled(b),
                None => fitted,
            };
            evaluate(
                log,
                outcome,
                y,
                &test_rows,
                &propensity,
                &fitted,
                extras,
                params,
                o,
            )
        })
        .collect()
}

fn learn_seed(seed: u64, outcome: usize) -> u64 {
    crate::learn::cart::derive_seed(seed, 1000 + outcome as u64)
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    log: &OfferLog,
    outcome: &str,
    y: &[f64],
    test_rows: &[usize],
    propensity: &[f64],
    fitted: &learners::Fitted,
    extras: &Extras,
    params: &StudyParams,
    outcome_index: usize,
) -> OutcomeStudy {
    let n = log.len();
    let k = log.arms.len();
    let money = outcome == params.spend_outcome;
    // Value of arm a for row i given an outcome (expected or realised). Spend is never
    // negative, so a model's expectation below 0 counts as 0 (regressions on pseudo-outcomes
    // can dip below; a negative expected spend would be a negative cashback cost).
    let value_of = |a: usize, i: usize, outcome_value: f64| -> f64 {
        if money {
            let arm = &log.arms[a];
            (log.margin[i] - arm.rate) * outcome_value.max(0.0) - arm.cost
        } else {
            outcome_value
        }
    };
    let values_of = |mu: &[Vec<f64>]| -> Vec<Vec<f64>> {
        (0..k)
            .map(|a| (0..n).map(|i| value_of(a, i, mu[a][i])).collect())
            .collect()
    };
    let on_test = |v: &[Vec<f64>]| -> Vec<Vec<f64>> {
        v.iter()
            .map(|col| test_rows.iter().map(|&i| col[i]).collect())
            .collect()
    };
    let test_arm: Vec<usize> = test_rows.iter().map(|&i| log.arm[i]).collect();
    let realised: Vec<f64> = test_rows
        .iter()
        .map(|&i| value_of(log.arm[i], i, y[i]))
        .collect();
    // The DR nuisance: the cross-fitted per-arm outcome models (never fitted on test rows).
    let nuisance = on_test(&values_of(&fitted.outcome_mu));
    let eval = Evaluation {
        arm: &test_arm,
        realised: &realised,
        modelled: &nuisance,
        propensity,
    };
    let seed = crate::learn::cart::derive_seed(params.seed, 2000 + outcome_index as u64);
    let truth_test: Option<Vec<Vec<f64>>> = if money {
        extras.true_profit.as_ref().map(|t| on_test(t))
    } else {
        None
    };
    let oracle_value = truth_test.as_ref().map(|t| {
        policy::mean(
            &(0..test_rows.len())
                .map(|j| (0..k).map(|a| t[a][j]).fold(f64::NEG_INFINITY, f64::max))
                .collect::<Vec<_>>(),
        )
    });
    let true_of = |policy: &[usize]| -> (Option<f64>, Option<f64>) {
        match (&truth_test, oracle_value) {
            (Some(t), Some(oracle)) => {
                let v = policy::mean(
                    &policy
                        .iter()
                        .enumerate()
                        .map(|(j, &a)| t[a][j])
                        .collect::<Vec<_>>(),
                );
                let regret = if oracle != 0.0 {
                    100.0 * (oracle - v) / oracle
                } else {
                    0.0
                };
                (Some(v), Some(regret))
            }
            _ => (None, None),
        }
    };
    let mut metrics = Vec::new();
    let mut curves = Vec::new();
    let row = |learner: &str, arm: &str| MetricRow {
        learner: learner.to_string(),
        outcome: outcome.to_string(),
        arm: arm.to_string(),
        ..MetricRow::default()
    };

    // Single arms.
    for a in 0..k {
        let everyone = vec![a; test_rows.len()];
        let value = eval.value(
            &everyone,
            params.bootstrap,
            crate::learn::cart::derive_seed(seed, a as u64),
        );
        let (true_value, regret_pct) = true_of(&everyone);
        metrics.push(MetricRow {
            value: Some(value),
            true_value,
            regret_pct,
            ..row(&format!("everyone:{}", log.arms[a].name), &log.arms[a].name)
        });
    }
    // The best single arm is chosen on every customer, not only the held-out ones: a single-arm
    // policy learns nothing from the training rows, and the nuisance is cross-fitted (out of
    // fold on training rows), so the DR value over all rows is unbiased with about three times
    // the rows — on heavy-tailed spend the held-out rows alone often pick the wrong arm.
    let all_realised: Vec<f64> = (0..n).map(|i| value_of(log.arm[i], i, y[i])).collect();
    let all_modelled = values_of(&fitted.outcome_mu);
    let everyone_eval = Evaluation {
        arm: &log.arm,
        realised: &all_realised,
        modelled: &all_modelled,
        propensity,
    };
    let all_values: Vec<f64> = (0..k)
        .map(|a| policy::mean(&everyone_eval.dr_terms(&vec![a; n])))
        .collect();
    let best_arm = (0..k)
        .max_by(|&a, &b| all_values[a].total_cmp(&all_values[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    let all_rows_note = format!(
        "best single arm by DR value over all {} customers (cross-fitted): {}",
        crate::numfmt::grouped(n as u64),
        (0..k)
            .map(|a| format!(
                "{} {}",
                log.arms[a].name,
                crate::numfmt::amount(all_values[a], false)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let best_arm_policy = vec![best_arm; test_rows.len()];

    // Learners: ranking per arm, then their personalised policy.
    let mut gains = Vec::new();
    let mut learner_values = Vec::new();
    for (l, fit) in fitted.learners.iter().enumerate() {
        let name = fit.learner.name();
        for a in 1..k {
            let rows: Vec<usize> = test_rows
                .iter()
                .copied()
                .filter(|&i| log.arm[i] == a || log.arm[i] == 0)
                .collect();
            let ys: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
            let score: Vec<f64> = rows.iter().map(|&i| fit.mu[a][i] - fit.mu[0][i]).collect();
            let treated: Vec<bool> = rows.iter().map(|&i| log.arm[i] == a).collect();
            let curve = metrics::qini_curve(&ys, &score, &treated);
            for (fraction, gain) in metrics::resample(&curve, params.curve_points) {
                curves.push(CurvePoint {
                    learner: name.to_string(),
                    outcome: outcome.to_string(),
                    arm: log.arms[a].name.clone(),
                    fraction,
                    gain,
                });
            }
            metrics.push(MetricRow {
                qini: Some(metrics::qini_coefficient(&ys, &score, &treated)),
                auuc: metrics::auuc(&ys, &score, &treated),
                ..row(name, &log.arms[a].name)
            });
        }
        let values = on_test(&values_of(&fit.mu));
        let personal = policy::greedy(&values);
        let lseed = crate::learn::cart::derive_seed(seed, 100 + l as u64);
        let value = eval.value(&personal, params.bootstrap, lseed);
        let gain = eval.gain(&personal, &best_arm_policy, params.bootstrap, lseed ^ 1);
        let (true_value, regret_pct) = true_of(&personal);
        learner_values.push(value.clone());
        gains.push(gain.clone());
        metrics.push(MetricRow {
            value: Some(value),
            gain: Some(gain),
            true_value,
            regret_pct,
            ..row(name, "policy")
        });
    }

    // Random assignment, the oracle and today's model, for comparison.
    let random = eval.random_value(params.bootstrap, crate::learn::cart::derive_seed(seed, 50));
    let random_true = truth_test.as_ref().map(|t| {
        policy::mean(
            &(0..test_rows.len())
                .map(|j| (0..k).map(|a| t[a][j]).sum::<f64>() / k as f64)
                .collect::<Vec<_>>(),
        )
    });
    metrics.push(MetricRow {
        value: Some(random),
        true_value: random_true,
        regret_pct: match (random_true, oracle_value) {
            (Some(v), Some(o)) if o != 0.0 => Some(100.0 * (o - v) / o),
            _ => None,
        },
        ..row("random", "policy")
    });
    if let Some(t) = &truth_test {
        let oracle: Vec<usize> = policy::greedy(t);
        let value = eval.value(
            &oracle,
            params.bootstrap,
            crate::learn::cart::derive_seed(seed, 51),
        );
        let (true_value, regret_pct) = true_of(&oracle);
        metrics.push(MetricRow {
            value: Some(value),
            true_value,
            regret_pct,
            ..row("oracle", "policy")
        });
    }
    if let (true, Some(today)) = (money, &extras.oracle_label_policy) {
        let today: Vec<usize> = test_rows.iter().map(|&i| today[i]).collect();
        let value = eval.value(
            &today,
            params.bootstrap,
            crate::learn::cart::derive_seed(seed, 52),
        );
        let gain = eval.gain(
            &today,
            &best_arm_policy,
            params.bootstrap,
            crate::learn::cart::derive_seed(seed, 53),
        );
        let (true_value, regret_pct) = true_of(&today);
        metrics.push(MetricRow {
            value: Some(value),
            gain: Some(gain),
            true_value,
            regret_pct,
            ..row("oracle_label_regression", "policy")
        });
    }

    // The choice.
    let choice = policy::choose(best_arm, &gains);
    let best_arm_name = &log.arms[best_arm].name;
    let candidate = match &choice {
        Choice::Personalised { candidate, .. } => Some(*candidate),
        Choice::SingleArm { best_gain, .. } => best_gain.as_ref().map(|(c, _)| *c),
    };
    let reported = candidate.unwrap_or(0);
    let reported_fit = &fitted.learners[reported];
    let all_values = values_of(&reported_fit.mu);
    let (recommended, summary, rec_policy_test) = match &choice {
        Choice::Personalised { candidate, gain } => {
            let personal = policy::greedy(&all_values);
            let test_policy: Vec<usize> = test_rows.iter().map(|&i| personal[i]).collect();
            (
                personal,
                format!(
                    "personalised ({}): its held-out DR gain over everyone:{} is {:+.4} per customer, 95% interval [{:+.4}, {:+.4}] — above 0 ({all_rows_note})",
                    fitted.learners[*candidate].learner.name(),
                    best_arm_name,
                    gain.dr,
                    gain.ci_low,
                    gain.ci_high
                ),
                test_policy,
            )
        }
        Choice::SingleArm { arm, best_gain } => (
            vec![*arm; n],
            match best_gain {
                Some((c, gain)) => format!(
                    "everyone:{}: the best personalised policy ({}) gains {:+.4} per customer over it on the held-out rows, 95% interval [{:+.4}, {:+.4}] — not above 0 ({all_rows_note})",
                    best_arm_name,
                    fitted.learners[*c].learner.name(),
                    gain.dr,
                    gain.ci_low,
                    gain.ci_high
                ),
                None => format!("everyone:{best_arm_name}: no learner was fitted"),
            },
            vec![*arm; test_rows.len()],
        ),
    };
    let rec_value = match &choice {
        Choice::Personalised { candidate, .. } => learner_values[*candidate].clone(),
        Choice::SingleArm { .. } => metrics
            .iter()
            .find(|m| m.learner == format!("everyone:{best_arm_name}"))
            .and_then(|m| m.value.clone())
            .unwrap_or_default(),
    };
    let policy = match &choice {
        Choice::Personalised { candidate, .. } => {
            format!(
                "personalised ({})",
                fitted.learners[*candidate].learner.name()
            )
        }
        Choice::SingleArm { .. } => format!("everyone {best_arm_name}"),
    };
    let (true_value, regret_pct) = true_of(&rec_policy_test);
    metrics.push(MetricRow {
        value: Some(rec_value),
        gain: match &choice {
            Choice::Personalised { gain, .. } => Some(gain.clone()),
            Choice::SingleArm { .. } => None,
        },
        true_value,
        regret_pct,
        detail: Some(summary.clone()),
        ..row(
            "recommended",
            match &choice {
                Choice::Personalised { .. } => "policy",
                Choice::SingleArm { .. } => best_arm_name.as_str(),
            },
        )
    });
    OutcomeStudy {
        outcome: outcome.to_string(),
        base: fitted.base.clone(),
        grid_loss: fitted.grid_loss.clone(),
        metrics,
        curves,
        reported_learner: reported_fit.learner,
        expected: if money {
            reported_fit
                .mu
                .iter()
                .map(|arm| arm.iter().map(|&v| v.max(0.0)).collect())
                .collect()
        } else {
            reported_fit.mu.clone()
        },
        values: all_values,
        recommended,
        summary,
        policy,
    }
}
