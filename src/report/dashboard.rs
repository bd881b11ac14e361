//! `dashboard.html`: one self-contained, offline, interactive dashboard.
//!
//! Rust serialises a typed [`DashboardData`] (plus the [`recommendations`] computed from it) into
//! a single inline `<script type="application/json">` block; vanilla JavaScript bundled into the
//! page (`assets/dashboard/dashboard.js`, no libraries) draws every chart as inline SVG and builds
//! every table with `textContent`, never `innerHTML`, so data can never become markup.
//!
//! Why inline SVG and no charting library: the page must open from `file://` with no network,
//! stay small and auditable, and print well; a bundled library would add ~200 KB of third-party
//! code to review for XSS sinks, while the handful of chart kinds needed here (bars, scatter,
//! lines, heatmap, beeswarm) are a few hundred lines.
//!
//! Escaping, by context:
//! - inline JSON inside `<script>`: `<`, `>`, `&`, U+2028 and U+2029 become `\u003c` etc., so a
//!   merchant named `</script>` cannot end the script and `<!--` cannot change how it is parsed;
//! - HTML text and attributes rendered here in Rust (title, header, `<noscript>` fallback):
//!   [`escape_html`].
//!
//! The Content-Security-Policy allows no network at all (`default-src 'none'`) and only the one
//! script whose SHA-256 it names, so even an injected inline script or event handler would not run
//! and any attempted request is blocked and logged as a console error.

use serde::Serialize;

use crate::numfmt::{rate, thousands, Money};
use sha2::{Digest, Sha256};

/// The page skeleton; `{{NAME}}` placeholders are filled by [`render_dashboard`] in one pass.
const TEMPLATE: &str = include_str!("../../assets/dashboard/dashboard.html");
/// Stylesheet inlined into the page.
const CSS: &str = include_str!("../../assets/dashboard/dashboard.css");
/// The renderer: reads the JSON block, draws charts and tables, runs `#selftest`.
const JS: &str = include_str!("../../assets/dashboard/dashboard.js");

/// At most this many customers are embedded; more are thinned deterministically (every n-th row)
/// so the file stays a few hundred KB whatever the data size.
pub(crate) const MAX_CUSTOMERS: usize = 3000;
/// At most this many SHAP points per feature are embedded (thinned like customers).
pub(crate) const MAX_SHAP_POINTS: usize = 2000;
/// Below this test R² the recommendations carry a caution about rough per-customer rates.
pub(crate) const LOW_R2: f64 = 0.5;
/// A cluster smaller than `max(10, 1 % of customers)` triggers a caution: it is likely a handful
/// of extreme customers (the raw-feature artefact of SPEC §6), not a persona.
pub(crate) const TINY_CLUSTER_MIN: usize = 10;

/// Everything the dashboard shows. Fill it incrementally: every section renders sensibly when
/// empty ("not computed yet — run `fluz …`"). Shares and rates are fractions (0.02 = 2 %).
#[derive(Clone, Debug, Default, Serialize)]
pub struct DashboardData {
    /// Provenance shown in the header.
    pub meta: Meta,
    /// One row per pipeline stage that ran.
    pub pipeline: Vec<StageRow>,
    /// Rows left after each ingest/cleaning step (the `ingest_report` table).
    pub ingest_report: Vec<IngestRow>,
    /// Headline numbers.
    pub kpis: Kpis,
    /// Per-k clustering quality (`k_selection`).
    pub k_selection: Vec<KRow>,
    /// Per-cluster profiles (`segment_profiles` plus model outputs aggregated per segment).
    pub segments: Vec<SegmentRow>,
    /// A deterministic sample of customers for charts (at most [`MAX_CUSTOMERS`] are embedded).
    pub customers: Vec<CustomerRow>,
    /// Customers per cashback tier.
    pub tiers: Vec<TierRow>,
    /// `model_comparison`.
    pub models: Vec<ModelRow>,
    /// `cashback_shap_importance`.
    pub shap_importance: Vec<ShapImportanceRow>,
    /// `cashback_feature_importance`.
    pub feature_importance: Vec<FeatureImportanceRow>,
    /// Sampled SHAP values per feature, for the beeswarm and dependence figures (the page
    /// gets the figures, not these).
    #[serde(skip_serializing)]
    pub shap_points: Vec<ShapPointsRow>,
    /// `merchant_cashback`, the top merchants by spend (about 50).
    pub merchants: Vec<MerchantRow>,
    /// Lifetime value by segment, the holdout check and the "valuable but slipping" list.
    pub clv: Option<super::stage_views::ClvView>,
    /// The offer test: Qini curves, policy values with intervals, the arm per segment.
    pub offers: Option<super::stage_views::OfferView>,
    /// The budget: the value-vs-budget curve for the slider, the flat policies, the sentence.
    pub budget: Option<super::stage_views::BudgetView>,
}

/// Provenance of the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Meta {
    /// `env!("CARGO_PKG_VERSION")` of the fluz that wrote the page.
    pub fluz_version: String,
    /// When the page was generated, already formatted (e.g. RFC 3339).
    pub generated_at: String,
    /// Store kind: "parquet" or "postgres".
    pub store: String,
    /// Input file names (no directories needed).
    pub sources: Vec<String>,
    /// The linkage/model seed.
    pub seed: u64,
    /// ISO 4217 code for money ("USD" when empty).
    pub currency: String,
}

/// One pipeline stage from the run manifest.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StageRow {
    /// Stage name ("ingest", "segment", …).
    pub stage: String,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Rows written by the stage.
    pub rows_out: usize,
}

/// One row of `ingest_report`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IngestRow {
    /// "retail", "social" or "merchants".
    pub source: String,
    /// Cleaning step ("raw", "drop missing CustomerID", …), in pipeline order.
    pub step: String,
    /// Rows left after the step.
    pub rows: usize,
}

/// Headline numbers. `Option` fields come from later stages and stay `None` until they ran.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Kpis {
    /// Customers after cleaning.
    pub customers: usize,
    /// Transaction lines after cleaning.
    pub transactions: usize,
    /// Σ total_spent.
    pub revenue: f64,
    /// Mean total_spent per customer.
    pub mean_spend: f64,
    /// Median total_spent per customer.
    pub median_spend: f64,
    /// High-spend outliers by the 1.5·IQR rule.
    pub outliers: usize,
    /// k chosen by silhouette.
    pub best_k: Option<usize>,
    /// Family of the final model.
    pub best_model: Option<String>,
    /// Test RMSE of the final model (rate units).
    pub test_rmse: Option<f64>,
    /// Test R² of the final model.
    pub test_r2: Option<f64>,
    /// Regret of the model policy vs the oracle, in percent (100·(oracle − model)/oracle).
    pub regret_pct: Option<f64>,
    /// The flat rate the policy is compared with.
    pub flat_rate: Option<f64>,
    /// Regret of the flat rate vs the oracle, in percent.
    pub flat_regret_pct: Option<f64>,
    /// Σ V_i at the predicted tiers.
    pub value_predicted: Option<f64>,
    /// Σ V_i at the oracle rates.
    pub value_oracle: Option<f64>,
    /// Σ V_i at the flat rate.
    pub value_flat: Option<f64>,
    /// Where the offer test set the rate to give (`cashback_predictions.recommended_by`, e.g.
    /// "offer test: everyone 2%"); `None` when the rates are the model's tiers.
    pub rate_source: Option<String>,
}

/// One k of the clustering sweep.
pub use crate::segment::sweep::KResult as KRow;

/// One customer segment.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SegmentRow {
    /// Cluster id.
    pub cluster: usize,
    /// Persona name derived from the numbers.
    pub persona: String,
    /// Customers in the segment.
    pub size: usize,
    /// Fraction of all customers.
    pub share_customers: f64,
    /// Fraction of all revenue.
    pub share_revenue: f64,
    /// Mean total_spent.
    pub mean_total_spent: f64,
    /// Mean avg_item_price.
    pub mean_avg_item_price: f64,
    /// Mean spend_to_price_ratio.
    pub mean_spend_to_price_ratio: f64,
    /// Mean recency_days.
    pub mean_recency_days: f64,
    /// Mean n_invoices.
    pub mean_n_invoices: f64,
    /// Mean predicted rate over the segment (after `train`).
    pub mean_predicted_rate: Option<f64>,
    /// Mean oracle rate over the segment (after `train`).
    pub mean_optimal_rate: Option<f64>,
    /// Most common predicted tier (after `train`).
    pub tier_mode: Option<f64>,
    /// Most common rate to give (`recommended_rate`: the offer test's where it ran, else the
    /// tier).
    pub recommended_mode: Option<f64>,
    /// Σ V_i at the predicted tiers over the segment's customers.
    pub value_predicted: Option<f64>,
    /// Σ V_i at the oracle rates over the segment's customers.
    pub value_oracle: Option<f64>,
    /// Σ V_i at the flat rate over the segment's customers.
    pub value_flat: Option<f64>,
}

/// One sampled customer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CustomerRow {
    /// CustomerID.
    pub customer_id: i64,
    /// Cluster id.
    pub cluster: usize,
    /// Persona of the cluster.
    pub persona: String,
    /// Σ Quantity·UnitPrice.
    pub total_spent: f64,
    /// Mean UnitPrice.
    pub avg_item_price: f64,
    /// Days since the last purchase.
    pub recency_days: f64,
    /// Distinct invoices.
    pub n_invoices: usize,
    /// Model's predicted rate.
    pub predicted_rate: Option<f64>,
    /// Predicted rate snapped to a tier.
    pub tier: Option<f64>,
    /// The rate to give (`cashback_predictions.recommended_rate`).
    pub recommended_rate: Option<f64>,
    /// The rate to give comes from the offer test (not the model's tier).
    pub from_offer_test: bool,
    /// Oracle rate r*.
    pub optimal_rate: Option<f64>,
    /// V_i at the tier.
    pub value_at_tier: Option<f64>,
    /// V_i at the oracle rate.
    pub value_at_oracle: Option<f64>,
    /// The top-3 SHAP drivers in words (empty until `explain`).
    pub drivers: String,
}

/// Customers per tier.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TierRow {
    /// Tier rate.
    pub rate: f64,
    /// Customers assigned to it.
    pub customers: usize,
    /// Fraction of all customers.
    pub share: f64,
    /// Customers per segment, aligned with `DashboardData::segments` (index, not cluster id).
    pub by_cluster: Vec<usize>,
}

/// One model family in `model_comparison`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModelRow {
    /// "linear", "decision_tree", "random_forest", "boosting".
    pub family: String,
    /// Mean CV RMSE of the selected grid point.
    pub cv_rmse: f64,
    /// Test RMSE.
    pub test_rmse: f64,
    /// Test MAE.
    pub test_mae: f64,
    /// Test R².
    pub test_r2: f64,
    /// Whether this is the final model (serialised as `final`).
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// Mean |SHAP| of one feature.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShapImportanceRow {
    /// Feature name.
    pub feature: String,
    /// Mean |φ| (rate units).
    pub mean_abs_shap: f64,
    /// 1 = most important.
    pub rank: usize,
}

/// Impurity and permutation importance of one feature.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FeatureImportanceRow {
    /// Feature name.
    pub feature: String,
    /// Impurity (gain) importance.
    pub impurity: f64,
    /// Permutation importance (increase in RMSE).
    pub permutation: f64,
}

/// Sampled SHAP values of one feature; `values`, `shap` and `cluster` are aligned.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShapPointsRow {
    /// Feature name.
    pub feature: String,
    /// Feature values of the sampled customers.
    pub values: Vec<f64>,
    /// SHAP values φ of the same customers.
    pub shap: Vec<f64>,
    /// Cluster id of the same customers (so the segment filter can filter).
    pub cluster: Vec<usize>,
}

/// One row of `merchant_cashback`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MerchantRow {
    /// Yelp business id.
    pub business_id: String,
    /// Merchant name (untrusted text).
    pub name: String,
    /// City.
    pub city: String,
    /// Categories as text.
    pub categories: String,
    /// Star rating.
    pub stars: f64,
    /// Commission c_m the platform earns.
    pub commission: f64,
    /// Linked customers.
    pub customers: usize,
    /// Linked spend.
    pub spend: f64,
    /// Recommended merchant rate (never above the commission).
    pub recommended_rate: f64,
    /// Expected margin at the recommended rate.
    pub expected_margin: f64,
}

/// One recommendation, computed from the numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Recommendation {
    /// One line, imperative ("Give High-value whales 2% cashback").
    pub title: String,
    /// The numbers behind it.
    pub detail: String,
    /// A short headline figure ("+$12,345 vs flat"), if there is one.
    pub metric: Option<String>,
}

/// Customers as columns for the embedded JSON: repeating thirteen keys per row would double the
/// size of the largest section. The script turns it back into rows.
#[derive(Serialize)]
struct CustomerColumns<'a> {
    customer_id: Vec<i64>,
    cluster: Vec<usize>,
    /// Distinct persona names; `persona` indexes into it.
    personas: Vec<&'a str>,
    persona: Vec<usize>,
    total_spent: Vec<f64>,
    avg_item_price: Vec<f64>,
    recency_days: Vec<f64>,
    n_invoices: Vec<usize>,
    predicted_rate: Vec<Option<f64>>,
    tier: Vec<Option<f64>>,
    recommended_rate: Vec<Option<f64>>,
    from_offer_test: Vec<bool>,
    optimal_rate: Vec<Option<f64>>,
    value_at_tier: Vec<Option<f64>>,
    value_at_oracle: Vec<Option<f64>>,
    drivers: Vec<&'a str>,
}

impl<'a> CustomerColumns<'a> {
    fn new(rows: &'a [CustomerRow]) -> Self {
        let mut personas: Vec<&str> = Vec::new();
        let persona = rows
            .iter()
            .map(|r| match personas.iter().position(|p| *p == r.persona) {
                Some(i) => i,
                None => {
                    personas.push(&r.persona);
                    personas.len() - 1
                }
            })
            .collect();
        CustomerColumns {
            customer_id: rows.iter().map(|r| r.customer_id).collect(),
            cluster: rows.iter().map(|r| r.cluster).collect(),
            personas,
            persona,
            total_spent: rows.iter().map(|r| r.total_spent).collect(),
            avg_item_price: rows.iter().map(|r| r.avg_item_price).collect(),
            recency_days: rows.iter().map(|r| r.recency_days).collect(),
            n_invoices: rows.iter().map(|r| r.n_invoices).collect(),
            predicted_rate: rows.iter().map(|r| r.predicted_rate).collect(),
            tier: rows.iter().map(|r| r.tier).collect(),
            recommended_rate: rows.iter().map(|r| r.recommended_rate).collect(),
            from_offer_test: rows.iter().map(|r| r.from_offer_test).collect(),
            optimal_rate: rows.iter().map(|r| r.optimal_rate).collect(),
            value_at_tier: rows.iter().map(|r| r.value_at_tier).collect(),
            value_at_oracle: rows.iter().map(|r| r.value_at_oracle).collect(),
            drivers: rows.iter().map(|r| r.drivers.as_str()).collect(),
        }
    }
}

/// The embedded JSON: every section of the data (new fields included automatically), customers
/// as columns, and the recommendations. Serialising plain strings and numbers cannot fail;
/// should it anyway, the page still loads and says "not computed yet".
fn payload_json(data: &DashboardData, recs: &[Recommendation]) -> String {
    let value = serde_json::to_value(data).and_then(|mut value| {
        value["customers"] = serde_json::to_value(CustomerColumns::new(&data.customers))?;
        value["recommendations"] = serde_json::to_value(recs)?;
        value["figures"] = serde_json::to_value(super::figures::dashboard(data))?;
        Ok(value)
    });
    value
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "{}".to_string())
}

/// Renders the whole HTML document.
pub fn render_dashboard(data: &DashboardData) -> String {
    let recs = recommendations(data);
    let json = payload_json(&thin(data), &recs);
    let script_hash = base64(&Sha256::digest(JS.as_bytes()));
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; \
         img-src data:; base-uri 'none'; form-action 'none'"
    );
    let title = match data.meta.generated_at.as_str() {
        "" => "fluz dashboard".to_string(),
        at => format!("fluz dashboard — {at}"),
    };
    fill_template(TEMPLATE, |name, out| match name {
        // Built only from constants and base64 characters: no data, nothing to escape.
        "CSP" => out.push_str(&csp),
        "TITLE" => out.push_str(&escape_html(&title)),
        "VERSION" => out.push_str(&escape_html(&data.meta.fluz_version)),
        "META" => out.push_str(&escape_html(&meta_line(&data.meta))),
        "CSS" => out.push_str(CSS),
        "JS" => out.push_str(JS),
        "DATA" => out.push_str(&escape_json_for_script(&json)),
        "NOSCRIPT" => out.push_str(&noscript(&recs)),
        _ => {}
    })
}

/// Fills `{{NAME}}` placeholders in one left-to-right pass, so text inserted for one placeholder
/// (say a merchant called `{{JS}}` inside the data) is never expanded again.
fn fill_template(template: &str, mut fill: impl FnMut(&str, &mut String)) -> String {
    let mut out = String::with_capacity(template.len() + CSS.len() + JS.len() + 4096);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if after[..end].bytes().all(|b| b.is_ascii_uppercase()) => {
                fill(&after[..end], &mut out);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML element content and for double- or single-quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Makes serialised JSON safe inside `<script type="application/json">`: no `</script>`, no
/// `<!--`, no `&` entity games, and no U+2028/U+2029 (line terminators for older JS parsers).
/// These characters can only occur inside JSON strings, where the `\uXXXX` form means the same.
pub(crate) fn escape_json_for_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 64);
    for ch in json.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(ch),
        }
    }
    out
}

/// Standard base64 (with padding), for the CSP script hash.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// "fluz 0.1.0 · generated … · store parquet · sources a, b · seed 42", skipping empty parts.
fn meta_line(meta: &Meta) -> String {
    let mut parts = Vec::new();
    if !meta.fluz_version.is_empty() {
        parts.push(format!("fluz {}", meta.fluz_version));
    }
    if !meta.generated_at.is_empty() {
        parts.push(format!("generated {}", meta.generated_at));
    }
    if !meta.store.is_empty() {
        parts.push(format!("store {}", meta.store));
    }
    if !meta.sources.is_empty() {
        parts.push(format!("sources {}", meta.sources.join(", ")));
    }
    if parts.is_empty() {
        return "no pipeline run recorded yet".to_string();
    }
    parts.push(format!("seed {}", meta.seed));
    parts.join(" · ")
}

/// The recommendations as static HTML, for readers with scripts disabled.
fn noscript(recs: &[Recommendation]) -> String {
    let mut out = String::from("<h2>Recommendations</h2>");
    if recs.is_empty() {
        out.push_str("<p>Not computed yet — run <code>fluz run-all</code>.</p>");
        return out;
    }
    out.push_str("<ol>");
    for rec in recs {
        out.push_str("<li><strong>");
        out.push_str(&escape_html(&rec.title));
        out.push_str("</strong>");
        if let Some(metric) = &rec.metric {
            out.push_str(" <em>");
            out.push_str(&escape_html(metric));
            out.push_str("</em>");
        }
        out.push_str("<br>");
        out.push_str(&escape_html(&rec.detail));
        out.push_str("</li>");
    }
    out.push_str("</ol>");
    out
}

/// Keeps at most `max` items, evenly spaced, in their original order (deterministic).
fn thin_indices(len: usize, max: usize) -> Vec<usize> {
    if len <= max {
        return (0..len).collect();
    }
    (0..max).map(|i| i * len / max).collect()
}

/// Rounds to 6 significant digits, which no chart or tooltip can tell apart, so each number is
/// serialised in about 8 characters instead of up to 20 (the per-point sections dominate the page size).
fn round_sig(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    format!("{v:.5e}").parse().unwrap_or(v)
}

fn round_opt(v: Option<f64>) -> Option<f64> {
    v.map(round_sig)
}

/// A copy of the data with the per-customer sections thinned to the embed limits and rounded.
fn thin(data: &DashboardData) -> DashboardData {
    let mut out = data.clone();
    out.customers = thin_indices(data.customers.len(), MAX_CUSTOMERS)
        .into_iter()
        .map(|i| {
            let c = &data.customers[i];
            CustomerRow {
                total_spent: round_sig(c.total_spent),
                avg_item_price: round_sig(c.avg_item_price),
                recency_days: round_sig(c.recency_days),
                predicted_rate: round_opt(c.predicted_rate),
                tier: c.tier,
                optimal_rate: round_opt(c.optimal_rate),
                value_at_tier: round_opt(c.value_at_tier),
                value_at_oracle: round_opt(c.value_at_oracle),
                ..c.clone()
            }
        })
        .collect();
    for row in &mut out.shap_points {
        let len = row.values.len().min(row.shap.len()).min(row.cluster.len());
        let keep = thin_indices(len, MAX_SHAP_POINTS);
        row.values = keep.iter().map(|&i| round_sig(row.values[i])).collect();
        row.shap = keep.iter().map(|&i| round_sig(row.shap[i])).collect();
        row.cluster = keep.iter().map(|&i| row.cluster[i]).collect();
    }
    out
}

/// Recommendations computed from the numbers: the policy vs a flat rate and the oracle, a tier
/// per persona, the merchants with the most margin headroom, the top SHAP driver and cautions.
/// Sections whose inputs are missing are left out; no data gives no recommendations.
pub(crate) fn recommendations(data: &DashboardData) -> Vec<Recommendation> {
    let money = Money::new(&data.meta.currency);
    let mut out = Vec::new();
    out.extend(offer_recommendation(data, &money));
    out.extend(budget_recommendation(data, &money));
    out.extend(policy_recommendation(&data.kpis, &money));
    out.extend(segment_recommendations(data, &money));
    out.extend(merchant_recommendation(&data.merchants, &money));
    out.extend(shap_recommendation(data));
    out.extend(cluster_caution(data));
    out.extend(r2_caution(&data.kpis));
    out
}

/// Finite value or nothing.
fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// Model regret vs the oracle in percent, taken from the KPIs or derived from the values.
fn regret_pct(kpis: &Kpis) -> Option<f64> {
    finite(kpis.regret_pct).or_else(|| {
        let (model, oracle) = (finite(kpis.value_predicted)?, finite(kpis.value_oracle)?);
        (oracle.abs() > 0.0).then(|| 100.0 * (oracle - model) / oracle.abs())
    })
}

fn policy_recommendation(kpis: &Kpis, money: &Money) -> Option<Recommendation> {
    let model = finite(kpis.value_predicted)?;
    let flat = finite(kpis.value_flat)?;
    let flat_label =
        finite(kpis.flat_rate).map_or_else(|| "flat".to_string(), |r| format!("flat {}", rate(r)));
    let gain = model - flat;
    let gain_pct = if flat.abs() > 0.0 {
        Some(100.0 * gain / flat.abs())
    } else {
        None
    };
    let mut detail = if gain >= 0.0 {
        format!(
            "Tiered rates are expected to earn {} vs {} at a {} rate ({}{}).",
            money.fmt(model),
            money.fmt(flat),
            flat_label,
            money.signed(gain),
            gain_pct.map_or_else(String::new, |p| format!(", {p:+.1}%")),
        )
    } else {
        format!(
            "Tiered rates are expected to earn {}, {} less than a {} rate ({}).",
            money.fmt(model),
            money.fmt(-gain),
            flat_label,
            money.fmt(flat),
        )
    };
    if let Some(oracle) = finite(kpis.value_oracle) {
        detail.push_str(&format!(
            " The oracle policy would reach {}",
            money.fmt(oracle)
        ));
        if let Some(regret) = regret_pct(kpis) {
            detail.push_str(&format!("; the model's regret is {regret:.1}%"));
            if let Some(flat_regret) = finite(kpis.flat_regret_pct) {
                detail.push_str(&format!(" vs {flat_regret:.1}% for the flat rate"));
            }
        }
        detail.push('.');
    }
    let mut title = if gain >= 0.0 {
        format!("Replace the {flat_label} cashback with model-recommended tiers")
    } else {
        format!("Keep the {flat_label} cashback until the model improves")
    };
    if let Some(source) = &kpis.rate_source {
        // The offer test's evidence decides the rate; the model stays as the original
        // project's method, for comparison.
        title = format!(
            "For comparison, the oracle-label model (the original project's method): {}",
            lower_first(&title)
        );
        detail.push_str(&format!(
            " The rates to give come from the offer test instead ({}): this model learns a label computed from a sensitivity no platform observes.",
            source.strip_prefix("offer test: ").unwrap_or(source)
        ));
    }
    Some(Recommendation {
        title,
        detail,
        metric: Some(format!("{} vs flat", money.signed(gain))),
    })
}

fn segment_recommendations(data: &DashboardData, money: &Money) -> Vec<Recommendation> {
    let mut segments: Vec<&SegmentRow> = data
        .segments
        .iter()
        .filter(|s| finite(s.tier_mode).is_some())
        .collect();
    let learned = data.kpis.rate_source.as_deref();
    // Biggest revenue first: that is where a wrong tier costs most.
    segments.sort_by(|a, b| {
        b.share_revenue
            .total_cmp(&a.share_revenue)
            .then(a.cluster.cmp(&b.cluster))
    });
    let flat_label = finite(data.kpis.flat_rate)
        .map_or_else(|| "flat".to_string(), |r| format!("flat {}", rate(r)));
    segments
        .into_iter()
        .filter_map(|seg| {
            let tier = match learned {
                Some(_) => finite(seg.recommended_mode)?,
                None => finite(seg.tier_mode)?,
            };
            let title = if tier <= 0.0 {
                format!("Pay {} no cashback (0% tier)", seg.persona)
            } else {
                format!("Give {} {} cashback", seg.persona, rate(tier))
            };
            let mut detail = format!(
                "Cluster {}: {} customers ({} of customers, {} of revenue)",
                seg.cluster,
                thousands(seg.size as f64),
                share(seg.share_customers),
                share(seg.share_revenue),
            );
            match (
                finite(seg.mean_predicted_rate),
                finite(seg.mean_optimal_rate),
            ) {
                (Some(p), Some(o)) => detail.push_str(&format!(
                    "; mean predicted rate {}, mean optimal {}",
                    rate(p),
                    rate(o)
                )),
                (Some(p), None) => detail.push_str(&format!("; mean predicted rate {}", rate(p))),
                _ => {}
            }
            detail.push('.');
            if let Some(source) = learned {
                // The model's values are at its tiers, not at the rate given: not shown here.
                detail.push_str(&format!(
                    " Rate from the offer test ({}); the oracle-label model's modal tier would be {}.",
                    source.strip_prefix("offer test: ").unwrap_or(source),
                    seg.tier_mode.map_or_else(|| "—".to_string(), rate)
                ));
                return Some(Recommendation {
                    title,
                    detail,
                    metric: Some(format!("{} from the offer test", rate(tier))),
                });
            }
            let mut metric = Some(format!("{} tier", rate(tier)));
            if let (Some(model), Some(flat)) = (finite(seg.value_predicted), finite(seg.value_flat))
            {
                let gain = model - flat;
                detail.push_str(&format!(
                    " Expected value {} vs {} at a {} rate ({}).",
                    money.fmt(model),
                    money.fmt(flat),
                    flat_label,
                    money.signed(gain)
                ));
                metric = Some(format!("{} vs flat", money.signed(gain)));
            }
            Some(Recommendation {
                title,
                detail,
                metric,
            })
        })
        .collect()
}

fn merchant_recommendation(merchants: &[MerchantRow], money: &Money) -> Option<Recommendation> {
    let mut ranked: Vec<(&MerchantRow, f64)> = merchants
        .iter()
        .map(|m| (m, (m.commission - m.recommended_rate) * m.spend))
        .filter(|(_, headroom)| headroom.is_finite() && *headroom > 0.0)
        .collect();
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| a.0.name.cmp(&b.0.name))
            .then_with(|| a.0.business_id.cmp(&b.0.business_id))
    });
    ranked.truncate(3);
    if ranked.is_empty() {
        return None;
    }
    let names: Vec<&str> = ranked.iter().map(|(m, _)| m.name.as_str()).collect();
    let title = format!("Fund boosted-cashback campaigns at {}", join_and(&names));
    let parts: Vec<String> = ranked
        .iter()
        .map(|(m, headroom)| {
            format!(
                "{}{}: commission {} vs recommended {} on {} spend → {} headroom",
                m.name,
                if m.city.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", m.city)
                },
                rate(m.commission),
                rate(m.recommended_rate),
                money.fmt(m.spend),
                money.fmt(*headroom)
            )
        })
        .collect();
    let total: f64 = ranked.iter().map(|(_, h)| h).sum();
    Some(Recommendation {
        title,
        detail: format!(
            "These merchants have the most margin headroom (commission − recommended rate, × spend). {}.",
            parts.join("; ")
        ),
        metric: Some(format!("{} headroom", money.fmt(total))),
    })
}

/// Pearson correlation over the finite pairs; `None` with fewer than 3 pairs or no variance.
fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .map(|(&a, &b)| (a, b))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (a, b)| (sx + a / n, sy + b / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in &pairs {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

fn shap_recommendation(data: &DashboardData) -> Option<Recommendation> {
    let mut ranked: Vec<&ShapImportanceRow> = data
        .shap_importance
        .iter()
        .filter(|r| r.mean_abs_shap.is_finite())
        .collect();
    ranked.sort_by(|a, b| {
        b.mean_abs_shap
            .total_cmp(&a.mean_abs_shap)
            .then(a.feature.cmp(&b.feature))
    });
    let top = *ranked.first()?;
    let total: f64 = ranked.iter().map(|r| r.mean_abs_shap).sum();
    let mut detail = format!(
        "Mean |SHAP| {:.2} percentage points",
        top.mean_abs_shap * 100.0
    );
    if total > 0.0 {
        detail.push_str(&format!(
            " ({:.0}% of all attribution)",
            100.0 * top.mean_abs_shap / total
        ));
    }
    let corr = data
        .shap_points
        .iter()
        .find(|p| p.feature == top.feature)
        .and_then(|p| correlation(&p.values, &p.shap));
    match corr {
        Some(r) if r > 0.1 => detail.push_str(&format!(
            "; higher {} → higher recommended rate (correlation {r:+.2})",
            top.feature
        )),
        Some(r) if r < -0.1 => detail.push_str(&format!(
            "; higher {} → lower recommended rate (correlation {r:+.2})",
            top.feature
        )),
        Some(r) => detail.push_str(&format!(
            "; its effect has no simple direction (correlation {r:+.2})"
        )),
        None => {}
    }
    detail.push('.');
    let next: Vec<&str> = ranked
        .iter()
        .skip(1)
        .take(2)
        .map(|r| r.feature.as_str())
        .collect();
    if !next.is_empty() {
        detail.push_str(&format!(" Next: {}.", join_and(&next)));
    }
    Some(Recommendation {
        title: format!("{} drives the recommended rate most", top.feature),
        detail,
        metric: (total > 0.0)
            .then(|| format!("{:.0}% of attribution", 100.0 * top.mean_abs_shap / total)),
    })
}

/// The offer test's recommendation: evidence, so it comes first, with its held-out value.
fn offer_recommendation(data: &DashboardData, money: &Money) -> Option<Recommendation> {
    let offers = data.offers.as_ref()?;
    let rec = offers.policies.iter().find(|p| p.kind == "recommended")?;
    let simulated = offers.policies.iter().any(|p| p.true_value.is_some());
    let test = if simulated {
        "the simulated offer test"
    } else {
        "the offer test"
    };
    let what = &offers.recommendation;
    let title = match what.strip_prefix("everyone:") {
        Some(rest) => {
            let arm = rest.split(": ").next().unwrap_or(rest);
            format!("Offer everyone {arm}: no personalised policy beat it in {test}")
        }
        None => format!("Personalise the offer: it beat every single arm in {test}"),
    };
    let (dr, low, high) = (finite(rec.dr)?, finite(rec.ci_low), finite(rec.ci_high));
    let interval = match (low, high) {
        (Some(l), Some(h)) => format!(" (95% interval {} to {})", money.fmt(l), money.fmt(h)),
        _ => String::new(),
    };
    Some(Recommendation {
        title,
        detail: format!(
            "Expected profit {} per customer on the {} held-out customers{interval}, by the doubly-robust estimate of what they did in the test. Why: {}.",
            money.fmt(dr),
            thousands(offers.test_customers as f64),
            what.replacen("everyone:", "everyone ", 1)
        ),
        metric: Some(format!("{} per customer", money.fmt(dr))),
    })
}

/// The budget: the targeted allocation against the flat rate, and whether held-out customers
/// confirm the model's figure.
fn budget_recommendation(data: &DashboardData, money: &Money) -> Option<Recommendation> {
    let budget = data.budget.as_ref()?;
    let checked = match (
        budget.heldout_dr_value,
        budget.heldout_dr_ci_low,
        budget.heldout_customers,
    ) {
        (Some(dr), Some(low), Some(n)) => Some((dr, low, n)),
        _ => None,
    };
    let title = match checked {
        Some((_, low, _)) if low > 0.0 => format!(
            "Spend the {} budget on the targeted allocation: held-out customers confirm it earns",
            money.fmt(budget.budget)
        ),
        Some(_) => format!(
            "Caution: the targeted allocation of the {} budget is not confirmed on held-out customers",
            money.fmt(budget.budget)
        ),
        None => format!(
            "Spend the {} budget on the targeted allocation (the model's estimate)",
            money.fmt(budget.budget)
        ),
    };
    let mut detail = format!("{}.", capitalised(&budget.sentence));
    if let Some(held) = &budget.heldout_sentence {
        detail.push_str(&format!(" Checked {held}."));
    }
    Some(Recommendation {
        title,
        detail,
        metric: Some(match checked {
            Some((dr, _, n)) => {
                format!("{} on {} held out (DR)", money.fmt(dr), thousands(n as f64))
            }
            None => format!("{} expected", money.fmt(budget.integer_value)),
        }),
    })
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn cluster_caution(data: &DashboardData) -> Option<Recommendation> {
    if data.segments.len() < 2 {
        return None;
    }
    let total: usize = data.segments.iter().map(|s| s.size).sum();
    let threshold = TINY_CLUSTER_MIN.max(total.div_ceil(100));
    let smallest = data
        .segments
        .iter()
        .min_by(|a, b| a.size.cmp(&b.size).then(a.cluster.cmp(&b.cluster)))?;
    if smallest.size >= threshold {
        return None;
    }
    let k = data.kpis.best_k.unwrap_or(data.segments.len());
    Some(Recommendation {
        title: format!(
            "Caution: cluster {} ({}) has only {} customers",
            smallest.cluster,
            smallest.persona,
            thousands(smallest.size as f64)
        ),
        detail: format!(
            "At k = {k} the smallest cluster holds {} of customers; clusters this small usually isolate a few extreme \
             customers rather than a persona. Check min_cluster_size in k_selection or use the log1p transform before acting on it.",
            share(smallest.share_customers)
        ),
        metric: Some(format!("{} customers", thousands(smallest.size as f64))),
    })
}

fn r2_caution(kpis: &Kpis) -> Option<Recommendation> {
    let r2 = finite(kpis.test_r2)?;
    if r2 >= LOW_R2 {
        return None;
    }
    let rmse = finite(kpis.test_rmse).map_or_else(String::new, |e| {
        format!(", RMSE {:.2} percentage points", e * 100.0)
    });
    Some(Recommendation {
        title: format!("Caution: the model explains only {:.0}% of the variation in optimal rates", (r2 * 100.0).max(0.0)),
        detail: format!(
            "Test R² {r2:.2}{rmse}. Treat individual rates as rough and prefer the segment-level tiers until more data or features improve it."
        ),
        metric: Some(format!("R² {r2:.2}")),
    })
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    }
}

/// A share with one decimal: 0.1234 → "12.3%".
fn share(s: f64) -> String {
    format!("{:.1}%", s * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(cluster: usize, persona: &str, size: usize, share_revenue: f64) -> SegmentRow {
        SegmentRow {
            cluster,
            persona: persona.to_string(),
            size,
            share_customers: size as f64 / 1000.0,
            share_revenue,
            ..SegmentRow::default()
        }
    }

    fn merchant(name: &str, commission: f64, recommended_rate: f64, spend: f64) -> MerchantRow {
        MerchantRow {
            business_id: format!("id-{name}"),
            name: name.to_string(),
            commission,
            recommended_rate,
            spend,
            ..MerchantRow::default()
        }
    }

    /// The JSON block of a rendered page.
    fn data_block(html: &str) -> &str {
        let open = "<script type=\"application/json\" id=\"fluz-data\">";
        let start = html.find(open).expect("data block") + open.len();
        let end = html[start..].find("</script>").expect("end of data block");
        &html[start..start + end]
    }

    #[test]
    fn offer_test_and_budget_recommendations_say_their_evidence() {
        use crate::report::stage_views::{BudgetView, OfferView, PolicyRow};
        let mut data = DashboardData::default();
        assert!(recommendations(&data).is_empty());
        data.offers = Some(OfferView {
            test_customers: 1298,
            recommendation: "everyone:2%: the best personalised policy (x_learner) gains +0.15"
                .into(),
            policies: vec![PolicyRow {
                policy: "recommended".into(),
                kind: "recommended".into(),
                dr: Some(50.9),
                ci_low: Some(48.25),
                ci_high: Some(53.38),
                true_value: Some(51.4),
                ..PolicyRow::default()
            }],
            ..OfferView::default()
        });
        data.budget = Some(BudgetView {
            budget: 58343.0,
            sentence:
                "at the cost of a flat 2% (58343.35), the targeted allocation earns 19817.64 more"
                    .into(),
            heldout_sentence: Some("on the 1,298 held-out customers of the offer test, …".into()),
            heldout_customers: Some(1298),
            heldout_dr_value: Some(10483.0),
            heldout_dr_ci_low: Some(-7760.0),
            ..BudgetView::default()
        });
        let recs = recommendations(&data);
        assert_eq!(
            recs[0].title,
            "Offer everyone 2%: no personalised policy beat it in the simulated offer test"
        );
        assert!(
            recs[0]
                .detail
                .contains("on the 1,298 held-out customers (95% interval $48.25 to $53.38)"),
            "{}",
            recs[0].detail
        );
        assert!(
            recs[1].title.starts_with(
                "Caution: the targeted allocation of the $58,343 budget is not confirmed"
            ),
            "{}",
            recs[1].title
        );
        assert!(recs[1].detail.starts_with("At the cost of a flat 2%"));
        assert_eq!(
            recs[1].metric.as_deref(),
            Some("$10,483 on 1,298 held out (DR)")
        );
        // Confirmed when the interval lies above 0.
        data.budget.as_mut().unwrap().heldout_dr_ci_low = Some(120.0);
        assert!(recommendations(&data)[1]
            .title
            .starts_with("Spend the $58,343 budget"));
    }

    #[test]
    fn script_close_tag_in_a_merchant_name_does_not_end_the_data_block() {
        let mut data = DashboardData::default();
        data.merchants.push(merchant(
            "</script><script>alert(2)</script>",
            0.1,
            0.02,
            5000.0,
        ));
        let html = render_dashboard(&data);
        let block = data_block(&html);
        assert!(!block.contains('<'), "raw '<' in the data block");
        assert!(block.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert(2)"));
        // The escaped block is still valid JSON that decodes to the original name.
        let value: serde_json::Value = serde_json::from_str(block).expect("valid JSON");
        assert_eq!(
            value["merchants"][0]["name"],
            "</script><script>alert(2)</script>"
        );
        // Exactly two scripts: the renderer and the data block.
        assert_eq!(html.matches("<script").count(), 2);
    }

    #[test]
    fn line_separators_and_html_comment_openers_are_escaped_in_json() {
        let json = serde_json::to_string("a\u{2028}b\u{2029}c<!--d&e>").expect("json");
        let escaped = escape_json_for_script(&json);
        assert_eq!(escaped, "\"a\\u2028b\\u2029c\\u003c!--d\\u0026e\\u003e\"");
        let back: String = serde_json::from_str(&escaped).expect("valid JSON");
        assert_eq!(back, "a\u{2028}b\u{2029}c<!--d&e>");
    }

    #[test]
    fn html_escape_covers_text_and_both_attribute_quotes() {
        assert_eq!(
            escape_html(r#"<img src=x onerror=alert(1)> & "q" 'p'"#),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;p&#39;"
        );
    }

    #[test]
    fn header_and_noscript_escape_data_derived_text() {
        let mut data = DashboardData::default();
        data.meta.sources = vec!["<img src=x onerror=alert(1)>.csv".to_string()];
        data.meta.generated_at = "2026-01-01\"><script>".to_string();
        data.merchants
            .push(merchant("<img src=x onerror=alert(1)>", 0.1, 0.02, 5000.0));
        let html = render_dashboard(&data);
        assert!(!html.contains("<img"), "an <img> tag made it into the page");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!html.contains("2026-01-01\"><script>"));
    }

    #[test]
    fn template_placeholders_inside_data_are_not_expanded() {
        let mut data = DashboardData::default();
        data.merchants
            .push(merchant("{{JS}}{{CSS}}", 0.1, 0.02, 5000.0));
        let html = render_dashboard(&data);
        assert!(data_block(&html).contains("{{JS}}{{CSS}}"));
        assert_eq!(
            html.matches("'use strict'").count(),
            1,
            "the script was inserted twice"
        );
    }

    #[test]
    fn page_is_self_contained_and_the_csp_hash_matches_the_script() {
        let html = render_dashboard(&DashboardData::default());
        for needle in [
            "<link",
            "@import",
            "url(http",
            "src=\"http",
            "href=\"http",
            "{{",
        ] {
            assert!(!html.contains(needle), "page contains {needle}");
        }
        let expected = format!("'sha256-{}'", base64(&Sha256::digest(JS.as_bytes())));
        assert!(html.contains(&expected));
        assert!(
            html.contains(&format!("<script>{JS}</script>")),
            "script differs from the hashed text"
        );
        assert!(html.contains("default-src 'none'"));
    }

    #[test]
    fn assets_cannot_close_their_own_elements() {
        assert!(!JS.to_ascii_lowercase().contains("</script"));
        assert!(!CSS.to_ascii_lowercase().contains("</style"));
    }

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // sha256("abc"), base64 as CSP expects it.
        assert_eq!(
            base64(&Sha256::digest(b"abc")),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn customers_and_shap_points_are_thinned_deterministically() {
        let data = DashboardData {
            customers: (0..10_000)
                .map(|i| CustomerRow {
                    customer_id: i,
                    ..CustomerRow::default()
                })
                .collect(),
            shap_points: vec![ShapPointsRow {
                feature: "total_spent".to_string(),
                values: (0..5000).map(f64::from).collect(),
                shap: (0..5000).map(f64::from).collect(),
                cluster: vec![0; 4999], // one short: rows are cut to the aligned length
            }],
            ..DashboardData::default()
        };
        let thinned = thin(&data);
        assert_eq!(thinned.customers.len(), MAX_CUSTOMERS);
        assert_eq!(thinned.customers[0].customer_id, 0);
        assert_eq!(thinned.customers[1].customer_id, 3); // every 10000/3000-th row
        let points = &thinned.shap_points[0];
        assert_eq!(points.values.len(), MAX_SHAP_POINTS);
        assert_eq!(points.shap.len(), MAX_SHAP_POINTS);
        assert_eq!(points.cluster.len(), MAX_SHAP_POINTS);
        assert_eq!(render_dashboard(&data), render_dashboard(&data));
    }

    #[test]
    fn customers_are_embedded_as_columns_with_a_persona_dictionary() {
        let row = |id: i64, persona: &str| CustomerRow {
            customer_id: id,
            persona: persona.to_string(),
            tier: (id == 2).then_some(0.02),
            ..CustomerRow::default()
        };
        let data = DashboardData {
            customers: vec![row(1, "A & B"), row(2, "C"), row(3, "A & B")],
            ..DashboardData::default()
        };
        let html = render_dashboard(&data);
        let value: serde_json::Value = serde_json::from_str(data_block(&html)).expect("valid JSON");
        let customers = &value["customers"];
        assert_eq!(customers["customer_id"], serde_json::json!([1, 2, 3]));
        assert_eq!(customers["personas"], serde_json::json!(["A & B", "C"]));
        assert_eq!(customers["persona"], serde_json::json!([0, 1, 0]));
        assert_eq!(customers["tier"], serde_json::json!([null, 0.02, null]));
        assert_eq!(value["recommendations"], serde_json::json!([]));
        assert!(value["kpis"].is_object() && value["segments"].is_array());
    }

    #[test]
    fn embedded_points_are_rounded_to_six_significant_digits() {
        assert_eq!(round_sig(0.123_456_789), 0.123457);
        assert_eq!(round_sig(-98_765.432_1), -98_765.4);
        assert_eq!(round_sig(0.0), 0.0);
        assert!(round_sig(f64::NAN).is_nan());
        let data = DashboardData {
            customers: vec![CustomerRow {
                total_spent: 1_234.567_891_234,
                predicted_rate: Some(0.021_234_567_8),
                ..CustomerRow::default()
            }],
            ..DashboardData::default()
        };
        let html = render_dashboard(&data);
        let block = data_block(&html);
        assert!(block.contains("\"total_spent\":[1234.57]"), "{block}");
        assert!(block.contains("\"predicted_rate\":[0.0212346]"), "{block}");
    }

    #[test]
    fn empty_data_gives_no_recommendations_and_a_not_computed_notice() {
        let data = DashboardData::default();
        assert!(recommendations(&data).is_empty());
        assert!(render_dashboard(&data).contains("Not computed yet"));
    }

    #[test]
    fn policy_recommendation_reports_gain_over_flat_and_regret() {
        let mut data = DashboardData::default();
        data.kpis.flat_rate = Some(0.02);
        data.kpis.value_predicted = Some(95_000.0);
        data.kpis.value_flat = Some(75_000.0);
        data.kpis.value_oracle = Some(100_000.0);
        data.kpis.flat_regret_pct = Some(20.0);
        let recs = recommendations(&data);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            recs[0].title,
            "Replace the flat 2% cashback with model-recommended tiers"
        );
        assert_eq!(recs[0].metric.as_deref(), Some("+$20,000 vs flat"));
        assert!(
            recs[0].detail.contains("$95,000 vs $75,000"),
            "{}",
            recs[0].detail
        );
        assert!(recs[0].detail.contains("+26.7%"), "{}", recs[0].detail);
        // Regret derived from the values when the KPI is missing: (100k − 95k)/100k.
        assert!(
            recs[0].detail.contains("regret is 5.0% vs 20.0%"),
            "{}",
            recs[0].detail
        );
    }

    #[test]
    fn policy_worse_than_flat_says_keep_flat() {
        let mut data = DashboardData::default();
        data.kpis.flat_rate = Some(0.03);
        data.kpis.value_predicted = Some(70_000.0);
        data.kpis.value_flat = Some(80_000.0);
        let recs = recommendations(&data);
        assert_eq!(
            recs[0].title,
            "Keep the flat 3% cashback until the model improves"
        );
        assert_eq!(recs[0].metric.as_deref(), Some("-$10,000 vs flat"));
    }

    #[test]
    fn segments_get_their_modal_tier_biggest_revenue_first() {
        let mut data = DashboardData::default();
        data.kpis.flat_rate = Some(0.02);
        let mut whales = segment(1, "High-value whales", 120, 0.6);
        whales.tier_mode = Some(0.05);
        whales.mean_predicted_rate = Some(0.0461);
        whales.mean_optimal_rate = Some(0.05);
        whales.value_predicted = Some(12_500.0);
        whales.value_flat = Some(10_000.0);
        let mut lapsed = segment(0, "Lapsed & gone", 880, 0.4);
        lapsed.tier_mode = Some(0.0);
        let untrained = segment(2, "Not trained", 5, 0.0); // no tier yet: no recommendation
        data.segments = vec![lapsed, whales, untrained];
        let recs = recommendations(&data);
        let titles: Vec<&str> = recs.iter().map(|r| r.title.as_str()).collect();
        assert_eq!(titles[0], "Give High-value whales 5% cashback");
        assert_eq!(titles[1], "Pay Lapsed & gone no cashback (0% tier)");
        assert_eq!(recs[0].metric.as_deref(), Some("+$2,500 vs flat"));
        assert!(
            recs[0]
                .detail
                .contains("mean predicted rate 4.61%, mean optimal 5%"),
            "{}",
            recs[0].detail
        );
        assert_eq!(recs[1].metric.as_deref(), Some("0% tier"));
        // 3 segments, the smallest (5 of 1005) below the tiny-cluster threshold of 11.
        assert!(titles[2].starts_with("Caution: cluster 2 (Not trained) has only 5 customers"));
        assert_eq!(recs.len(), 3);
    }

    #[test]
    fn merchants_ranked_by_margin_headroom_times_spend() {
        let data = DashboardData {
            merchants: vec![
                merchant("Big spend, thin margin", 0.03, 0.029, 1_000_000.0), // 1,000
                merchant("Wide margin", 0.15, 0.02, 50_000.0),                // 6,500
                merchant("Middle", 0.10, 0.05, 60_000.0),                     // 3,000
                merchant("Small", 0.08, 0.02, 10_000.0),                      // 600
                merchant("Underwater", 0.02, 0.05, 90_000.0),                 // negative: skipped
            ],
            ..DashboardData::default()
        };
        let recs = recommendations(&data);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            recs[0].title,
            "Fund boosted-cashback campaigns at Wide margin, Middle and Big spend, thin margin"
        );
        assert_eq!(recs[0].metric.as_deref(), Some("$10,500 headroom"));
        assert!(recs[0].detail.contains(
            "Wide margin: commission 15% vs recommended 2% on $50,000 spend → $6,500 headroom"
        ));
    }

    #[test]
    fn top_shap_driver_with_direction_from_the_points() {
        let data = DashboardData {
            shap_importance: vec![
                ShapImportanceRow {
                    feature: "recency_days".into(),
                    mean_abs_shap: 0.002,
                    rank: 2,
                },
                ShapImportanceRow {
                    feature: "avg_item_price".into(),
                    mean_abs_shap: 0.006,
                    rank: 1,
                },
                ShapImportanceRow {
                    feature: "n_invoices".into(),
                    mean_abs_shap: 0.002,
                    rank: 3,
                },
            ],
            shap_points: vec![ShapPointsRow {
                feature: "avg_item_price".into(),
                values: vec![1.0, 2.0, 3.0, 4.0],
                shap: vec![0.01, 0.004, -0.002, -0.01],
                cluster: vec![0; 4],
            }],
            ..DashboardData::default()
        };
        let recs = recommendations(&data);
        assert_eq!(
            recs[0].title,
            "avg_item_price drives the recommended rate most"
        );
        assert_eq!(recs[0].metric.as_deref(), Some("60% of attribution"));
        assert!(
            recs[0]
                .detail
                .contains("higher avg_item_price → lower recommended rate"),
            "{}",
            recs[0].detail
        );
        // Ties on importance are broken by name.
        assert!(
            recs[0]
                .detail
                .ends_with("Next: n_invoices and recency_days."),
            "{}",
            recs[0].detail
        );
    }

    #[test]
    fn low_r2_gives_a_caution_and_high_r2_does_not() {
        let mut data = DashboardData::default();
        data.kpis.test_r2 = Some(0.31);
        data.kpis.test_rmse = Some(0.0123);
        let recs = recommendations(&data);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            recs[0].title,
            "Caution: the model explains only 31% of the variation in optimal rates"
        );
        assert!(recs[0].detail.contains("RMSE 1.23 percentage points"));
        data.kpis.test_r2 = Some(0.93);
        assert!(recommendations(&data).is_empty());
    }

    #[test]
    fn balanced_clusters_get_no_caution() {
        let data = DashboardData {
            segments: vec![segment(0, "A", 500, 0.5), segment(1, "B", 500, 0.5)],
            ..DashboardData::default()
        };
        assert!(recommendations(&data).is_empty());
    }

    #[test]
    fn number_formatting() {
        assert_eq!(rate(0.075), "7.5%");
        assert_eq!(rate(0.02), "2%");
        assert_eq!(rate(0.0), "0%");
        assert_eq!(rate(0.02134), "2.13%");
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.6), "1,000");
        assert_eq!(Money::new("").fmt(-1234.0), "-$1,234");
        assert_eq!(Money::new("GBP").fmt(12.345), "£12.35");
        assert_eq!(Money::new("USD").signed(0.0), "+$0.00");
        assert_eq!(join_and(&["a", "b", "c"]), "a, b and c");
    }
}
