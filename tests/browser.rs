//! `dashboard.html` in a real headless Chromium: the page loads with no console errors and no
//! network requests, every dashboard and slide draws its charts, the segment filter changes them,
//! and hostile merchant names stay text. The page checks itself when opened with `#selftest` and
//! writes the verdict into `<pre id="selftest-result">`; this test reads it from `--dump-dom`.
//!
//! Chromium is the Debian package `chromium`. Without it the tests print "SKIPPED" and pass,
//! except under CI (env `CI` set), where a missing browser is a failure.
//! Screenshots of each dashboard and slide go to `<temp dir>/fluz-screens/` for a person to look at.

use fluz::report::dashboard::*;
use fluz::report::stage_views::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const XSS_IMG: &str = "<img src=x onerror=alert(1)>";
const XSS_SCRIPT: &str = "</script><script>alert(2)</script>";
const XSS_SQL: &str = "'); drop table transactions; --";
const TIERS: [f64; 7] = [0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.10];

/// The Chromium binary, or `None` after printing why the test is skipped. Panics under CI.
fn chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    let found = if fixed.exists() {
        Some(fixed.to_path_buf())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
                .find(|candidate| candidate.is_file())
        })
    };
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is required for the browser tests in CI: install the Debian package `chromium`");
        }
        // Straight to the stderr handle: the harness captures println!, so the line would
        // never reach the test output.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: chromium not installed (apt-get install chromium to run the browser tests)"
        );
    }
    found
}

/// A fresh, empty directory under the system temp dir.
fn fresh_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("fluz-browser-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

struct BrowserRun {
    stdout: String,
    stderr: String,
    seconds: f64,
}

/// Runs headless Chromium on `url` with a fresh profile and the flags that keep it offline.
fn run_chromium(bin: &Path, url: &str, extra: &[String]) -> BrowserRun {
    let profile = fresh_dir("profile");
    let started = Instant::now();
    let output = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("failed to start chromium");
    let seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&profile);
    let run = BrowserRun {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        seconds,
    };
    assert!(
        output.status.success(),
        "chromium failed ({}):\n{}",
        output.status,
        run.stderr
    );
    run
}

/// Lines Chromium logs for the page. With `--enable-logging=stderr` every console message
/// (console.error and console.log alike), uncaught exception and CSP violation appears as
/// `[pid:tid:time:INFO:CONSOLE:line] "message", source: file:///…` — checked by hand with a page
/// that calls console.error, throws and loads a blocked image. The dashboard logs nothing, so any
/// such line is a failure.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Content Security Policy")
                || l.contains("Refused to")
        })
        .collect()
}

/// The JSON the page wrote into `<pre id="selftest-result">`.
fn selftest_result(dom: &str) -> serde_json::Value {
    let open = "<pre id=\"selftest-result\">";
    let start = dom
        .find(open)
        .unwrap_or_else(|| panic!("no self-test result in the DOM:\n{}", tail(dom)))
        + open.len();
    let end = dom[start..]
        .find("</pre>")
        .expect("end of the self-test result")
        + start;
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("self-test result is not JSON ({e}): {text}"))
}

fn tail(text: &str) -> &str {
    let cut = text.len().saturating_sub(3000);
    let cut = (cut..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[cut..]
}

fn write_page(data: &DashboardData, dir: &Path) -> PathBuf {
    let path = dir.join("dashboard.html");
    std::fs::write(&path, render_dashboard(data)).expect("write dashboard.html");
    path
}

fn file_url(path: &Path, fragment: &str) -> String {
    format!("file://{}#{fragment}", path.display())
}

/// Loads `page#selftest`, asserts a clean console and a passing self-test, returns the result.
fn assert_selftest_passes(bin: &Path, page: &Path) -> serde_json::Value {
    let run = run_chromium(
        bin,
        &file_url(page, "selftest"),
        &["--dump-dom".to_string()],
    );
    println!("chromium --dump-dom #selftest: {:.2} s", run.seconds);
    let console = console_lines(&run.stderr);
    assert!(
        console.is_empty(),
        "console output / CSP violations:\n{}",
        console.join("\n")
    );
    let result = selftest_result(&run.stdout);
    assert!(
        run.stdout.contains("<title>selftest:pass</title>"),
        "self-test failed: {result:#}"
    );
    assert_eq!(result["pass"], true, "{result:#}");
    assert!(
        result["failures"].as_array().is_some_and(|f| f.is_empty()),
        "{result:#}"
    );
    result
}

// ---------------------------------------------------------------- realistic data

/// splitmix64: a tiny deterministic generator, so the page is the same on every run.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn snap(rate: f64) -> f64 {
    TIERS.iter().copied().fold(TIERS[0], |best, t| {
        if (t - rate).abs() < (best - rate).abs() {
            t
        } else {
            best
        }
    })
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

/// A dashboard shaped like a real run on the UCI data (4,338 customers, 4 segments), with
/// hostile merchant names and a persona name containing `&`.
fn realistic_data() -> DashboardData {
    let mut rng = Rng(42);
    // persona, share, ln spend mean, ln price mean, recency mean, invoices mean, lift scale
    let personas = [
        ("Loyal regulars", 0.44, 6.9, 1.2, 35.0, 6.0, 1.0),
        ("High-value whales", 0.07, 9.1, 1.5, 12.0, 28.0, 0.6),
        (
            "Bargain hunters & deal-seekers",
            0.31,
            6.0,
            0.5,
            60.0,
            3.0,
            1.6,
        ),
        ("Lapsed", 0.18, 5.6, 1.4, 240.0, 1.5, 0.8),
    ];
    let n = 4338usize;
    let flat = 0.02;
    let mut customers = Vec::with_capacity(n);
    let mut flat_values = Vec::with_capacity(n);
    for i in 0..n {
        let u = rng.uniform();
        let mut acc = 0.0;
        let cluster = personas.iter().position(|p| {
            acc += p.1;
            u < acc
        });
        let cluster = cluster.unwrap_or(0);
        let (persona, _, ln_spend, ln_price, recency, invoices, lift) = personas[cluster];
        let total_spent = (ln_spend + 0.7 * rng.normal()).exp();
        let avg_item_price = (ln_price + 0.45 * rng.normal()).exp();
        let recency_days = (recency * (0.6 * rng.normal()).exp()).min(373.0);
        let n_invoices = (invoices * (0.5 * rng.normal()).exp()).round().max(1.0) as usize;
        let beta = 20.0 * lift * (0.25 * rng.normal()).exp();
        let margin = 0.06 + 0.03 * rng.uniform() + 0.02;
        let optimal = ((beta * margin - 1.0) / (2.0 * beta)).clamp(0.0, 0.10);
        let predicted = (optimal + 0.004 * rng.normal()).clamp(0.0, 0.10);
        let tier = snap(predicted);
        let value = |r: f64| total_spent * (1.0 + beta * r) * (margin - r);
        flat_values.push(value(flat));
        customers.push(CustomerRow {
            customer_id: 12346 + i as i64,
            cluster,
            persona: persona.to_string(),
            total_spent,
            avg_item_price,
            recency_days,
            n_invoices,
            predicted_rate: Some(predicted),
            tier: Some(tier),
            // The offer view below recommends everyone 2%.
            recommended_rate: Some(0.02),
            from_offer_test: true,
            optimal_rate: Some(optimal),
            value_at_tier: Some(value(tier)),
            value_at_oracle: Some(value(optimal)),
            drivers: format!(
                "total_spent {} ({:+.2} pp), avg_item_price {} ({:+.2} pp), recency_days {} ({:+.2} pp)",
                if total_spent > 1500.0 { "high" } else { "low" },
                100.0 * (predicted - 0.03) * 0.5,
                if avg_item_price > 3.0 { "high" } else { "low" },
                -100.0 * (avg_item_price.ln() - 1.0) * 0.004,
                if recency_days > 90.0 { "long" } else { "short" },
                100.0 * (recency_days / 365.0 - 0.2) * 0.006
            ),
        });
    }
    let revenue: f64 = customers.iter().map(|c| c.total_spent).sum();
    let mut segments = Vec::new();
    for (cluster, p) in personas.iter().enumerate() {
        let members: Vec<usize> = (0..n)
            .filter(|&i| customers[i].cluster == cluster)
            .collect();
        let of = |f: &dyn Fn(&CustomerRow) -> f64| mean(members.iter().map(|&i| f(&customers[i])));
        let mut tier_counts = [0usize; TIERS.len()];
        for &i in &members {
            let t = customers[i].tier.unwrap_or(0.0);
            if let Some(k) = TIERS.iter().position(|&x| x == t) {
                tier_counts[k] += 1;
            }
        }
        let mode = (0..TIERS.len())
            .max_by_key(|&k| (tier_counts[k], std::cmp::Reverse(k)))
            .unwrap_or(0);
        segments.push(SegmentRow {
            cluster,
            persona: p.0.to_string(),
            size: members.len(),
            share_customers: members.len() as f64 / n as f64,
            share_revenue: members
                .iter()
                .map(|&i| customers[i].total_spent)
                .sum::<f64>()
                / revenue,
            mean_total_spent: of(&|c| c.total_spent),
            mean_avg_item_price: of(&|c| c.avg_item_price),
            mean_spend_to_price_ratio: of(&|c| c.total_spent / c.avg_item_price),
            mean_recency_days: of(&|c| c.recency_days),
            mean_n_invoices: of(&|c| c.n_invoices as f64),
            mean_predicted_rate: Some(of(&|c| c.predicted_rate.unwrap_or(0.0))),
            mean_optimal_rate: Some(of(&|c| c.optimal_rate.unwrap_or(0.0))),
            tier_mode: Some(TIERS[mode]),
            recommended_mode: Some(0.02),
            value_predicted: Some(
                members
                    .iter()
                    .map(|&i| customers[i].value_at_tier.unwrap_or(0.0))
                    .sum(),
            ),
            value_oracle: Some(
                members
                    .iter()
                    .map(|&i| customers[i].value_at_oracle.unwrap_or(0.0))
                    .sum(),
            ),
            value_flat: Some(members.iter().map(|&i| flat_values[i]).sum()),
        });
    }
    let tiers = TIERS
        .iter()
        .map(|&t| {
            let by_cluster: Vec<usize> = (0..personas.len())
                .map(|k| {
                    customers
                        .iter()
                        .filter(|c| c.cluster == k && c.tier == Some(t))
                        .count()
                })
                .collect();
            let count: usize = by_cluster.iter().sum();
            TierRow {
                rate: t,
                customers: count,
                share: count as f64 / n as f64,
                by_cluster,
            }
        })
        .collect();
    let value_predicted: f64 = segments.iter().filter_map(|s| s.value_predicted).sum();
    let value_oracle: f64 = segments.iter().filter_map(|s| s.value_oracle).sum();
    let value_flat: f64 = segments.iter().filter_map(|s| s.value_flat).sum();
    let mut spends: Vec<f64> = customers.iter().map(|c| c.total_spent).collect();
    spends.sort_by(f64::total_cmp);

    let features = [
        "total_spent",
        "avg_item_price",
        "spend_to_price_ratio",
        "recency_days",
        "n_invoices",
        "social_degree",
        "merchant_commission",
        "avg_basket_value",
        "tenure_days",
        "n_lines",
        "total_quantity",
        "social_pagerank",
        "merchant_avg_stars",
        "merchant_avg_reviews",
    ];
    let shap_importance = features
        .iter()
        .enumerate()
        .map(|(i, f)| ShapImportanceRow {
            feature: f.to_string(),
            mean_abs_shap: 0.009 * 0.62f64.powi(i as i32),
            rank: i + 1,
        })
        .collect();
    let feature_importance = features
        .iter()
        .enumerate()
        .map(|(i, f)| FeatureImportanceRow {
            feature: f.to_string(),
            impurity: 0.35 * 0.6f64.powi(i as i32),
            permutation: 0.004
                * 0.55f64.powi(i as i32)
                * (1.0 + 0.3 * ((i * 7 % 5) as f64 - 2.0) / 2.0),
        })
        .collect();
    let sample: Vec<usize> = (0..n).step_by(6).collect();
    let shap_points = features
        .iter()
        .enumerate()
        .map(|(fi, f)| {
            let scale = 0.009 * 0.62f64.powi(fi as i32);
            let sign = if fi % 3 == 1 { -1.0 } else { 1.0 };
            let values: Vec<f64> = sample
                .iter()
                .map(|&i| {
                    let c = &customers[i];
                    match *f {
                        "total_spent" => c.total_spent,
                        "avg_item_price" => c.avg_item_price,
                        "recency_days" => c.recency_days,
                        "n_invoices" => c.n_invoices as f64,
                        "spend_to_price_ratio" => c.total_spent / c.avg_item_price,
                        _ => (rng.normal() * 0.8 + 2.0).exp(),
                    }
                })
                .collect();
            // SHAP values centre on zero: z-score of the log value, plus noise.
            let logs: Vec<f64> = values.iter().map(|v| v.max(1e-9).ln()).collect();
            let m = mean(logs.iter().copied());
            let sd = mean(logs.iter().map(|l| (l - m) * (l - m)))
                .sqrt()
                .max(1e-9);
            let shap = logs
                .iter()
                .map(|l| sign * scale * (1.1 * (l - m) / sd + 0.35 * rng.normal()))
                .collect();
            let cluster = sample.iter().map(|&i| customers[i].cluster).collect();
            ShapPointsRow {
                feature: f.to_string(),
                values,
                shap,
                cluster,
            }
        })
        .collect();

    let mut merchants = Vec::new();
    let names = [
        "Acme Outfitters",
        "Blue Door Boutique",
        "Cornerstone Books",
        "Daily Grind Market",
        "Evergreen Home",
        "Fable & Fig",
        "Golden Gate Gifts",
        "Harbor Hardware",
        "Ivy Lane Florist",
        "Juniper Kitchenware",
    ];
    let cities = [
        "Las Vegas",
        "Phoenix",
        "Toronto",
        "Charlotte",
        "Pittsburgh",
        "Montréal",
        "Madison",
    ];
    for i in 0..50 {
        let name = match i {
            3 => XSS_IMG.to_string(),
            7 => XSS_SCRIPT.to_string(),
            11 => XSS_SQL.to_string(),
            _ => format!("{} #{}", names[i % names.len()], i / names.len() + 1),
        };
        let stars = (1.5 + 3.5 * rng.uniform()).min(5.0);
        let commission = (0.08 - 0.01 * (stars - 3.5)).clamp(0.02, 0.15);
        let spend = 180_000.0 * 0.93f64.powi(i as i32) * (0.8 + 0.4 * rng.uniform());
        let recommended_rate = (0.015 + 0.03 * rng.uniform()).min(commission);
        merchants.push(MerchantRow {
            business_id: format!("b{:020}", rng.next_u64() % 10u64.pow(18)),
            name,
            city: cities[i % cities.len()].to_string(),
            categories: "Shopping, Fashion, Home & Garden, Gift Shops".to_string(),
            stars: (stars * 2.0).round() / 2.0,
            commission,
            customers: (spend / 900.0) as usize + 3,
            spend,
            recommended_rate,
            expected_margin: spend * (commission - recommended_rate),
        });
    }

    let k_selection = (2..=8)
        .map(|k| KRow {
            k,
            inertia: 9000.0 / (k as f64).powf(0.9),
            silhouette: if k == 4 {
                0.47
            } else {
                0.44 - 0.025 * (k as f64 - 4.0).abs()
            },
            davies_bouldin: 0.78 + 0.05 * (k as f64 - 4.0).abs(),
            calinski_harabasz: 3400.0 - 150.0 * k as f64,
            min_cluster_size: (700 / k).max(11),
            silhouette_exact: true,
            best: k == 4,
        })
        .collect();

    let models = vec![
        ModelRow {
            family: "linear".into(),
            cv_rmse: 0.0121,
            test_rmse: 0.0124,
            test_mae: 0.0095,
            test_r2: 0.612,
            is_final: false,
        },
        ModelRow {
            family: "decision_tree".into(),
            cv_rmse: 0.0068,
            test_rmse: 0.0071,
            test_mae: 0.0049,
            test_r2: 0.873,
            is_final: false,
        },
        ModelRow {
            family: "random_forest".into(),
            cv_rmse: 0.0049,
            test_rmse: 0.0051,
            test_mae: 0.0036,
            test_r2: 0.934,
            is_final: false,
        },
        ModelRow {
            family: "boosting".into(),
            cv_rmse: 0.0045,
            test_rmse: 0.0047,
            test_mae: 0.0033,
            test_r2: 0.944,
            is_final: true,
        },
    ];

    DashboardData {
        meta: Meta {
            fluz_version: "0.1.0".into(),
            generated_at: "2026-11-24T10:00:00Z".into(),
            store: "parquet".into(),
            sources: vec![
                "Online Retail.xlsx".into(),
                "facebook_combined.txt.gz".into(),
                "yelp_academic_dataset_business.json".into(),
            ],
            seed: 42,
            currency: "USD".into(),
        },
        pipeline: [
            ("ingest", 3.2, 397_884),
            ("features", 0.8, 4338),
            ("eda", 0.3, 4338),
            ("segment", 1.9, 4338),
            ("train", 24.5, 4338),
            ("explain", 6.1, 60_732),
            ("export", 0.9, 17),
        ]
        .iter()
        .map(|&(stage, seconds, rows_out)| StageRow {
            stage: stage.into(),
            seconds,
            rows_out,
        })
        .collect(),
        ingest_report: [
            ("retail", "raw", 541_909),
            ("retail", "drop missing CustomerID", 406_829),
            ("retail", "drop cancellations", 397_924),
            ("retail", "drop Quantity <= 0", 397_924),
            ("retail", "drop UnitPrice <= 0", 397_884),
            ("retail", "drop duplicate lines", 392_692),
            ("social", "raw", 88_234),
            ("social", "drop self-loops and duplicates", 88_234),
            ("merchants", "raw", 150_346),
        ]
        .iter()
        .map(|&(source, step, rows)| IngestRow {
            source: source.into(),
            step: step.into(),
            rows,
        })
        .collect(),
        kpis: Kpis {
            customers: n,
            transactions: 392_692,
            revenue,
            mean_spend: revenue / n as f64,
            median_spend: spends[n / 2],
            outliers: 425,
            best_k: Some(4),
            best_model: Some("boosting".into()),
            test_rmse: Some(0.0047),
            test_r2: Some(0.944),
            regret_pct: Some(100.0 * (value_oracle - value_predicted) / value_oracle),
            flat_rate: Some(flat),
            flat_regret_pct: Some(100.0 * (value_oracle - value_flat) / value_oracle),
            value_predicted: Some(value_predicted),
            value_oracle: Some(value_oracle),
            value_flat: Some(value_flat),
            rate_source: Some("offer test: everyone 2%".into()),
        },
        k_selection,
        segments,
        customers,
        tiers,
        models,
        shap_importance,
        feature_importance,
        shap_points,
        merchants,
        clv: Some(clv_view(&personas.map(|p| p.0))),
        offers: Some(offer_view(&personas.map(|p| p.0))),
        budget: Some(budget_view()),
    }
}

/// Lifetime value per persona, a holdout check and slipping customers, at UCI-like scale.
fn clv_view(personas: &[&str]) -> ClvView {
    let mut rng = Rng(7);
    let by_segment: Vec<ClvSegment> = personas
        .iter()
        .enumerate()
        .map(|(c, p)| {
            let customers = 400 + 300 * c;
            let mean_clv = 80.0 + 300.0 * rng.uniform();
            ClvSegment {
                cluster: c,
                persona: p.to_string(),
                customers,
                total_clv: mean_clv * customers as f64,
                mean_clv,
                mean_p_alive: 0.5 + 0.4 * rng.uniform(),
                slipping: 5 + c * 7,
            }
        })
        .collect();
    let slipping: Vec<SlippingRow> = (0..40)
        .map(|i| SlippingRow {
            customer_id: 12_000 + i as i64 * 37,
            cluster: Some(i % personas.len()),
            persona: personas[i % personas.len()].to_string(),
            clv: 2_000.0 / (1.0 + i as f64 * 0.1),
            p_alive: 0.05 + 0.4 * rng.uniform(),
            frequency: 3 + (i % 9) as i64,
            expected_purchases: 0.3 + rng.uniform(),
            monetary_value: Some(80.0 + 200.0 * rng.uniform()),
        })
        .collect();
    let mut holdout: Vec<ClvHoldoutRow> = (0..8)
        .map(|f| ClvHoldoutRow {
            calibration_frequency: if f == 7 { "7+".into() } else { f.to_string() },
            customers: 1200 / (f + 1),
            actual_mean: 0.3 + 0.55 * f as f64,
            expected_mean: 0.25 + 0.6 * f as f64,
        })
        .collect();
    holdout.push(ClvHoldoutRow {
        calibration_frequency: "all".into(),
        customers: 4338,
        actual_mean: 1.41,
        expected_mean: 1.37,
    });
    ClvView {
        customers: 4338,
        valued: 2790,
        total_clv: by_segment.iter().map(|s| s.total_clv).sum(),
        mean_p_alive: 0.71,
        valuable_threshold: 410.0,
        slipping_count: 58,
        slipping_clv: 41_200.0,
        slipping,
        by_segment,
        holdout,
        parameters: vec![
            ("bgnbd".into(), "r".into(), 0.83),
            ("bgnbd".into(), "alpha".into(), 63.2),
            ("bgnbd".into(), "a".into(), 0.05),
            ("bgnbd".into(), "b".into(), 0.36),
        ],
    }
}

/// A three-arm offer test: Qini curves of four learners, policy values, arms per persona.
fn offer_view(personas: &[&str]) -> OfferView {
    let arms = ["0%", "2%", "5%"];
    let learners = ["t", "x", "dr", "r"];
    let mut curves = Vec::new();
    for outcome in ["spend"] {
        for arm in &arms[1..] {
            for (l, learner) in learners.iter().enumerate() {
                let lift = 900.0 + 120.0 * l as f64;
                let fraction: Vec<f64> = (0..=50).map(|k| k as f64 / 50.0).collect();
                let gain = fraction
                    .iter()
                    .map(|f| {
                        lift * (f * (1.6 - 0.6 * f)) + if arm == &"5%" { 200.0 * f } else { 0.0 }
                    })
                    .collect();
                curves.push(QiniSeries {
                    learner: learner.to_string(),
                    outcome: outcome.into(),
                    arm: arm.to_string(),
                    qini: Some(0.04 + 0.01 * l as f64),
                    fraction,
                    gain,
                });
            }
        }
    }
    let policy = |name: &str, kind: &str, dr: f64, truth: Option<f64>| PolicyRow {
        policy: name.into(),
        kind: kind.into(),
        dr: Some(dr),
        ci_low: Some(dr - 2.1),
        ci_high: Some(dr + 2.3),
        ipw: Some(dr + 0.4),
        true_value: truth,
        regret_pct: truth.map(|t| 100.0 * (31.0 - t) / 31.0),
        gain: (kind == "learner").then_some(dr - 29.8),
        gain_ci_low: (kind == "learner").then_some(dr - 29.8 - 1.3),
        gain_ci_high: (kind == "learner").then_some(dr - 29.8 + 1.3),
        detail: String::new(),
    };
    OfferView {
        outcome: "spend".into(),
        outcomes: vec!["spend".into()],
        arms: arms.iter().map(|a| a.to_string()).collect(),
        customers: 4338,
        test_customers: 1301,
        recommendation: "everyone:2%: the personalised policy (t) gains 0.41 per customer over it on the 1,301 held-out customers, 95% interval −0.88 to 1.70, which includes 0".into(),
        policies: vec![
            policy("everyone:0%", "arm", 24.1, Some(24.5)),
            policy("everyone:2%", "arm", 29.8, Some(30.1)),
            policy("everyone:5%", "arm", 27.2, Some(27.0)),
            policy("random", "random", 27.0, Some(27.2)),
            policy("t", "learner", 30.2, Some(30.0)),
            policy("x", "learner", 29.9, Some(29.7)),
            policy("oracle", "oracle", 31.0, Some(31.0)),
            policy("recommended", "recommended", 29.8, Some(30.1)),
        ],
        curves,
        by_segment: personas
            .iter()
            .enumerate()
            .map(|(c, p)| SegmentArms {
                cluster: c,
                persona: p.to_string(),
                customers: 1000,
                counts: vec![100 * c, 700 - 100 * c, 300],
            })
            .collect(),
        drivers: vec![EffectDrivers {
            arm: "2%".into(),
            fidelity_r2: 0.97,
            features: ["recency_days", "n_invoices", "avg_item_price", "social_degree"]
                .iter()
                .map(|f| f.to_string())
                .collect(),
            mean_abs_shap: vec![41.0, 23.5, 12.2, 3.1],
        }],
    }
}

/// A value-vs-budget curve with three flat rates on it.
fn budget_view() -> BudgetView {
    let points = 300;
    let cost: Vec<f64> = (0..points)
        .map(|i| 4000.0 * i as f64 / (points - 1) as f64)
        .collect();
    let value: Vec<f64> = cost
        .iter()
        .map(|c| 9000.0 * (1.0 - (-c / 1500.0).exp()))
        .collect();
    let lambda_at: Vec<f64> = cost.iter().map(|c| 6.0 * (-c / 1500.0).exp()).collect();
    let counts: Vec<Vec<u64>> = (0..points)
        .map(|i| {
            let moved = (4338 * i / points) as u64;
            vec![0, moved * 2 / 3, moved / 3, 4338 - moved]
        })
        .collect();
    let flat = |arm: &str, rate: f64, cost: f64, value: f64, targeted: f64| FlatPoint {
        arm: arm.into(),
        rate: Some(rate),
        cost,
        value,
        targeted_value: targeted,
        gain: targeted - value,
        gain_pct: (value > 0.0).then(|| 100.0 * (targeted - value) / value),
    };
    BudgetView {
        source: "uplift_predictions (outcome spend)".into(),
        customers: 4338,
        budget: 1800.0,
        budget_basis: "the cost of the flat 2% policy ([economics] flat_rate)".into(),
        capped: false,
        integer_value: 6200.0,
        integer_cost: 1799.2,
        lp_value: 6200.4,
        lambda: 1.8,
        sentence: "at the cost of a flat 2% (1800.00), the targeted allocation earns 1450.00 more (+30.5% on the flat policy's 4750.00)".into(),
        heldout_sentence: Some("on the 1,301 held-out customers of the offer test, the allocation earns 1820.00 over no cashback by the model, 1610.00 by the doubly-robust estimate (95% interval 420.00 to 2790.00)".into()),
        heldout_customers: Some(1301),
        heldout_model_value: Some(1820.0),
        heldout_dr_value: Some(1610.0),
        heldout_dr_ci_low: Some(420.0),
        heldout_dr_ci_high: Some(2790.0),
        flat_arm: Some("2%".into()),
        arms: vec!["0%".into(), "2%".into(), "5%".into(), "none".into()],
        cost,
        value,
        lambda_at,
        counts,
        flat: vec![
            flat("0%", 0.0, 0.0, 0.0, 0.0),
            flat("2%", 0.02, 1800.0, 4750.0, 6200.0),
            flat("5%", 0.05, 4000.0, 5200.0, 9000.0),
        ],
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn full_dashboard_passes_its_selftest_with_a_clean_console() {
    let Some(bin) = chromium() else { return };
    let dir = fresh_dir("full");
    let data = realistic_data();
    let page = write_page(&data, &dir);
    let html = std::fs::read_to_string(&page).expect("read page");
    assert!(
        !html.contains(XSS_IMG) && !html.contains(XSS_SCRIPT),
        "a hostile name is in the page unescaped"
    );
    let result = assert_selftest_passes(&bin, &page);
    // With every stage computed nothing may be empty, and the filter must really have changed charts.
    assert_eq!(result["empty_views"], serde_json::json!([]), "{result:#}");
    assert!(
        result["filter_changes"].as_u64().unwrap_or(0) > 40,
        "{result:#}"
    );
    assert!(
        result["views_checked"].as_u64().unwrap_or(0) >= 40,
        "{result:#}"
    );
    println!(
        "self-test: {} checks in {} ms inside the page; render ms per view: {}",
        result["checks"], result["ms"], result["render_ms"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn empty_dashboard_says_what_to_run() {
    let Some(bin) = chromium() else { return };
    let dir = fresh_dir("empty");
    let page = write_page(&DashboardData::default(), &dir);
    let result = assert_selftest_passes(&bin, &page);
    let empty = result["empty_views"].as_array().map_or(0, Vec::len);
    assert!(
        empty > 20,
        "expected the views to explain they are not computed: {result:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn partially_computed_dashboard_renders_what_exists() {
    // After `segment` but before `train`: no model numbers yet.
    let Some(bin) = chromium() else { return };
    let mut data = realistic_data();
    data.models.clear();
    data.tiers.clear();
    data.shap_importance.clear();
    data.shap_points.clear();
    data.feature_importance.clear();
    data.merchants.clear();
    data.kpis = Kpis {
        best_model: None,
        test_rmse: None,
        test_r2: None,
        regret_pct: None,
        flat_regret_pct: None,
        value_predicted: None,
        value_oracle: None,
        value_flat: None,
        ..data.kpis
    };
    for s in &mut data.segments {
        *s = SegmentRow {
            mean_predicted_rate: None,
            mean_optimal_rate: None,
            tier_mode: None,
            value_predicted: None,
            value_oracle: None,
            value_flat: None,
            ..s.clone()
        };
    }
    for c in &mut data.customers {
        *c = CustomerRow {
            predicted_rate: None,
            tier: None,
            optimal_rate: None,
            value_at_tier: None,
            value_at_oracle: None,
            drivers: String::new(),
            ..c.clone()
        };
    }
    let dir = fresh_dir("partial");
    let page = write_page(&data, &dir);
    let result = assert_selftest_passes(&bin, &page);
    let empty: Vec<String> = result["empty_views"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    assert!(empty.iter().any(|v| v.ends_with(":tierBars")), "{empty:?}");
    assert!(
        !empty
            .iter()
            .any(|v| v.ends_with(":priceSpendScatter") || v.ends_with(":segmentShare")),
        "{empty:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn screenshots_of_each_dashboard_and_slide() {
    let Some(bin) = chromium() else { return };
    let out = std::env::temp_dir().join("fluz-screens");
    std::fs::create_dir_all(&out).expect("create screenshot dir");
    let page = write_page(&realistic_data(), &out);
    let empty_page = out.join("dashboard-empty.html");
    std::fs::write(&empty_page, render_dashboard(&DashboardData::default()))
        .expect("write the empty page");
    // Heights fit each dashboard whole at 1400 px wide.
    let shots = [
        ("segments", "tab=segments", 1420),
        ("cashback", "tab=cashback", 1280),
        ("explain", "tab=explain", 1620),
        ("clv", "tab=clv", 1500),
        ("offers", "tab=offers", 1400),
        ("budget", "tab=budget", 1400),
        ("summary", "tab=summary", 1900),
        ("summary-fold", "tab=summary", 1000),
        ("segments-filtered", "tab=segments&segment=1", 1000),
        ("story-1", "tab=story&slide=1", 1000),
        ("story-2", "tab=story&slide=2", 1000),
        ("story-3", "tab=story&slide=3", 1000),
        ("story-4", "tab=story&slide=4", 1000),
        ("story-5", "tab=story&slide=5", 1000),
        ("summary-filtered", "tab=summary&segment=2", 1000),
        ("empty-summary", "tab=summary", 1000),
        ("empty-story-1", "tab=story&slide=1", 1000),
    ];
    let mut times = Vec::new();
    for (name, fragment, height) in shots {
        let png = out.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&png);
        let source = if name.starts_with("empty") {
            &empty_page
        } else {
            &page
        };
        let run = run_chromium(
            &bin,
            &file_url(source, fragment),
            &[
                format!("--screenshot={}", png.display()),
                format!("--window-size=1400,{height}"),
            ],
        );
        let console = console_lines(&run.stderr);
        assert!(
            console.is_empty(),
            "{name}: console output:\n{}",
            console.join("\n")
        );
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 10_000,
            "{name}: screenshot missing or blank ({size} bytes)"
        );
        times.push(run.seconds);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "screenshots in {}: {} chromium runs, median {:.2} s, max {:.2} s",
        out.display(),
        times.len(),
        times[times.len() / 2],
        times[times.len() - 1]
    );
}
