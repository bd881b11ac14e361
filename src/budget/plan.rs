//! Which budget an allocation gets and which values it spends on: the precedence of the budget
//! asks ([`BudgetChoice`]), the allocation at that budget ([`solve`]) and run-all's choice of
//! source ([`offer_test_or_model`]).

use std::time::Instant;

use anyhow::Result;

use super::sources::{budget_rule, AllocationInput, AskOrigin, BudgetAsk};
use super::tables::{assemble, AssembleParams, Assembled};
use super::{allocate, BudgetParams, BudgetPlan, BudgetRule};
use crate::progress::process_cpu_seconds;

/// The budget asks, in precedence order: an explicit ask (a command-line flag), else the
/// configured amount, else the configured share of the expected spend, else the cost of every
/// customer on the arm at `flat_rate`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BudgetChoice {
    /// `--budget` / `--budget-share`.
    pub flag: Option<BudgetAsk>,
    /// `[budget] budget`.
    pub amount: Option<f64>,
    /// `[budget] budget_share`.
    pub share: Option<f64>,
    /// `[economics] flat_rate`: the flat policy whose cost is the default budget.
    pub flat_rate: f64,
}

impl BudgetChoice {
    /// The ask that wins, and where it came from (`None`: the flat policy's cost).
    pub(crate) fn ask(&self) -> Option<(BudgetAsk, AskOrigin)> {
        match self.flag {
            Some(ask) => Some((ask, AskOrigin::Flag)),
            None => self
                .amount
                .map(BudgetAsk::Amount)
                .or(self.share.map(BudgetAsk::Share))
                .map(|ask| (ask, AskOrigin::Settings)),
        }
    }

    /// The budget rule for `input` and a sentence saying where the amount came from.
    pub(crate) fn rule(&self, input: &AllocationInput) -> Result<(BudgetRule, String)> {
        budget_rule(self.ask(), self.flat_rate, input)
    }
}

/// What [`solve`] needs besides the rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PlanParams {
    pub budget: BudgetChoice,
    /// At most this many curve points besides the first and last.
    pub max_curve_points: usize,
}

/// The allocation of `input` at the chosen budget, and the sentence saying where the budget
/// came from; an allocator error names the input's row ([`AllocationInput::locate`]).
pub(crate) fn solve(input: &AllocationInput, params: &PlanParams) -> Result<(BudgetPlan, String)> {
    let (rule, basis) = params.budget.rule(input)?;
    let budget = BudgetParams {
        n_customers: input.customer_ids.len(),
        n_arms: input.arm_names.len(),
        budget: rule,
        max_curve_points: params.max_curve_points,
    };
    let plan = allocate(&input.offers(), &budget).map_err(|err| (input.locate)(err))?;
    Ok((plan, basis))
}

/// An allocation solved and read: the plan, where its budget came from, and its tables.
pub(crate) struct Planned {
    pub plan: BudgetPlan,
    pub basis: String,
    pub assembled: Assembled,
}

/// What an allocation did, for run-all's summary.
#[derive(Clone, Debug)]
pub(crate) struct AllocateOutcome {
    pub source: String,
    pub budget: f64,
    pub integer_value: f64,
    pub lambda: f64,
    pub sentence: String,
    /// The held-out doubly-robust check in words, when the values come from an offer test.
    pub held_out: Option<String>,
}

/// [`solve`], then the tables ([`assemble`]); the solve's wall and CPU time go to the log.
pub(crate) fn plan_and_assemble(
    input: &AllocationInput,
    params: &PlanParams,
    tables: &AssembleParams,
) -> Result<Planned> {
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let (plan, basis) = solve(input, params)?;
    let solve_seconds = started.elapsed().as_secs_f64();
    let solve_cpu = process_cpu_seconds() - cpu_before;
    let assembled = assemble(input, &plan, &basis, tables)?;
    tracing::info!(
        "allocate: {} rows solved (hulls, sort, curve, allocation) in {solve_seconds:.3}s ({solve_cpu:.2} CPU-s, all threads); tables built in {:.3}s",
        input.cost.len(),
        started.elapsed().as_secs_f64() - solve_seconds
    );
    Ok(Planned {
        plan,
        basis,
        assembled,
    })
}

impl Planned {
    /// The run manifest's details of the allocation.
    pub(crate) fn details(&self, source: &str) -> serde_json::Value {
        let plan = &self.plan;
        serde_json::json!({
            "source": source,
            "budget": plan.budget,
            "budget_basis": self.basis,
            "budget_capped": plan.capped,
            "lp_value": plan.lp_value,
            "integer_value": plan.integer_value,
            "gap": plan.gap,
            "lambda": plan.lambda,
            "curve_points": plan.curve.len(),
            "sentence": self.assembled.comparison.sentence,
        })
    }

    /// The summary of this allocation of `input`.
    pub(crate) fn outcome(self, input: &AllocationInput) -> AllocateOutcome {
        AllocateOutcome {
            source: input.source.clone(),
            budget: self.plan.budget,
            integer_value: self.plan.integer_value,
            lambda: self.plan.lambda,
            sentence: self.assembled.comparison.sentence,
            held_out: self.assembled.held_out,
        }
    }
}

/// run-all's source: the offer test's values (`offer_test`, when it has run) if the budget can
/// be priced from their arms (an explicit budget, or an arm at the flat rate); else the economic
/// model's (`model`, read only then).
pub(crate) fn offer_test_or_model(
    offer_test: Option<AllocationInput>,
    budget: &BudgetChoice,
    model: impl FnOnce() -> Result<AllocationInput>,
) -> Result<AllocationInput> {
    if let Some(input) = offer_test {
        if budget.rule(&input).is_ok() {
            return Ok(input);
        }
        tracing::info!(
            "allocate: the offer test's arms cannot price the budget (no arm at the flat rate); allocating from the economic model"
        );
    }
    model()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(flag: Option<BudgetAsk>, amount: Option<f64>, share: Option<f64>) -> BudgetChoice {
        BudgetChoice {
            flag,
            amount,
            share,
            flat_rate: 0.02,
        }
    }

    #[test]
    fn the_flag_wins_then_the_amount_then_the_share() {
        let flag = Some(BudgetAsk::Share(0.5));
        assert_eq!(
            choice(flag, Some(10.0), Some(0.1)).ask(),
            Some((BudgetAsk::Share(0.5), AskOrigin::Flag))
        );
        assert_eq!(
            choice(None, Some(10.0), Some(0.1)).ask(),
            Some((BudgetAsk::Amount(10.0), AskOrigin::Settings))
        );
        assert_eq!(
            choice(None, None, Some(0.1)).ask(),
            Some((BudgetAsk::Share(0.1), AskOrigin::Settings))
        );
        assert_eq!(choice(None, None, None).ask(), None);
    }
}
