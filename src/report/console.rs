//! The summaries the commands print: what a stage found, in the words and tables a person
//! reads on the console.

use std::fmt::Write as _;

use crate::budget::sources::AllocationInput;
use crate::budget::tables::Assembled;
use crate::budget::BudgetPlan;
use crate::sources::offers::OfferLog;
use crate::uplift::OutcomeStudy;

/// `writeln!` into a `String` (which cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out, $($arg)*);
    };
}

/// `fluz uplift`'s summary: the arms, then per outcome every policy's metrics and the
/// recommendation.
pub(crate) fn uplift_summary(log: &OfferLog, n_test: usize, studies: &[OutcomeStudy]) -> String {
    let mut out = String::new();
    let counts = log.arm_counts();
    say!(
        out,
        "uplift: {} customers ({} held out); arms {}",
        log.len(),
        n_test,
        log.arms
            .iter()
            .zip(&counts)
            .map(|(a, c)| format!("{} (rate {}, {c})", a.name, a.rate))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let fmt = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.4}"));
    for s in studies {
        say!(
            out,
            "\noutcome {} — base learner {}",
            s.outcome,
            s.base.name()
        );
        say!(
            out,
            "{:<26} {:<14} {:>8} {:>8} {:>10} {:>10} {:>22} {:>10} {:>9}",
            "learner",
            "arm",
            "qini",
            "auuc",
            "value_ipw",
            "value_dr",
            "95% interval",
            "true",
            "regret%"
        );
        for m in &s.metrics {
            let (ipw, dr, ci) = match &m.value {
                Some(v) => (
                    fmt(Some(v.ipw)),
                    fmt(Some(v.dr)),
                    format!("[{:.4}, {:.4}]", v.ci_low, v.ci_high),
                ),
                None => ("".into(), "".into(), "".into()),
            };
            let q = if m.value.is_none() {
                fmt(m.qini)
            } else {
                String::new()
            };
            let a = if m.value.is_none() {
                fmt(m.auuc)
            } else {
                String::new()
            };
            say!(
                out,
                "{:<26} {:<14} {:>8} {:>8} {:>10} {:>10} {:>22} {:>10} {:>9}",
                m.learner,
                m.arm,
                q,
                a,
                ipw,
                dr,
                ci,
                m.true_value.map_or(String::new(), |v| format!("{v:.4}")),
                m.regret_pct.map_or(String::new(), |v| format!("{v:.2}"))
            );
        }
        say!(out, "recommended: {}", s.summary);
    }
    out
}

/// `fluz allocate`'s summary: the budget, the allocation against its LP bound, the curve, the
/// comparison with the flat rate and the held-out check; `written_to` says where the outputs
/// went.
pub(crate) fn allocate_summary(
    input: &AllocationInput,
    plan: &BudgetPlan,
    basis: &str,
    assembled: &Assembled,
    written_to: &str,
) -> String {
    let mut out = String::new();
    say!(
        out,
        "allocate: {} customers from {}; budget {:.2} ({})",
        input.customer_ids.len(),
        input.source,
        plan.budget,
        basis
    );
    if plan.capped {
        say!(
            out,
            "  the budget is above what helps: spending {:.2} (every arm move with a positive return), {:.2} left unspent",
            plan.spend_cap,
            plan.budget - plan.spend_cap
        );
    }
    say!(
        out,
        "  integer allocation: value {:.2} at cost {:.2}; LP bound {:.2} (gap {:.4}); λ = {:.4} (one more unit of budget earns {:.4})",
        plan.integer_value, plan.integer_cost, plan.lp_value, plan.gap, plan.lambda, plan.lambda
    );
    say!(
        out,
        "  curve: {} points over {} hull segments; {}",
        plan.curve.len(),
        plan.segments,
        written_to
    );
    say!(out, "  {}", assembled.comparison.sentence);
    if let Some(held_out) = &assembled.held_out {
        say!(out, "  {held_out}");
    }
    out
}
