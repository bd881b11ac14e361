//! Criterion benchmark of the budget allocator (issue 17): 1,000,000 customers × 5 arms, the
//! whole curve and the allocation at one budget in one call.
//!
//! Run with `cargo bench --bench budget`.

use criterion::{criterion_group, criterion_main, Criterion};
use fluz::budget::{allocate, BudgetParams, BudgetRule, Offers};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Customer-major rows: arm a costs about (a + 1) units scaled by the customer's spend, and
/// earns a concave-ish, noisy return that turns negative for some customers.
pub fn instance(
    customers: usize,
    arms: usize,
    seed: u64,
) -> (Vec<u32>, Vec<u32>, Vec<f64>, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let n = customers * arms;
    let (mut customer, mut arm, mut cost, mut value) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for c in 0..customers as u32 {
        let spend: f64 = rng.gen_range(10.0..1000.0);
        let response: f64 = rng.gen_range(-0.5..3.0);
        for a in 0..arms as u32 {
            let rate = 0.02 * a as f64;
            customer.push(c);
            arm.push(a);
            cost.push(rate * spend * (1.0 + response.max(0.0) * rate * 10.0));
            value.push(
                spend * rate * (response - 8.0 * rate)
                    + rng.gen_range(-0.5..0.5) * rate * spend * 0.1,
            );
        }
    }
    (customer, arm, cost, value)
}

fn bench_allocate(c: &mut Criterion) {
    let (customer, arm, cost, value) = instance(1_000_000, 5, 17);
    let offers = Offers {
        customer: &customer,
        arm: &arm,
        cost: &cost,
        value: &value,
    };
    let total: f64 = cost.iter().sum();
    let params = BudgetParams {
        n_customers: 1_000_000,
        n_arms: 5,
        budget: BudgetRule::Amount(total * 0.2),
        max_curve_points: 2000,
    };
    let mut group = c.benchmark_group("budget");
    group.sample_size(10);
    group.bench_function("allocate_1m_customers_5_arms", |b| {
        b.iter(|| allocate(&offers, &params).expect("valid instance"))
    });
    group.finish();
}

criterion_group!(benches, bench_allocate);
criterion_main!(benches);
