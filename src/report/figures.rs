//! The charts described once ([`Figure`]s), from the same view data the dashboard carries:
//! the stage that writes a PNG and the dashboard build each chart here, so the picture in the
//! PNG and in the page is one description drawn twice.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dashboard::{
    FeatureImportanceRow, IngestRow, MerchantRow, ModelRow, SegmentRow, ShapImportanceRow,
    ShapPointsRow, StageRow, TierRow,
};
use super::figure::{shade_colour, Anchor, Axis, Figure, Format, Mark, TipLine, TipOf};
use super::stage_views::{
    BudgetView, ClvHoldoutRow, ClvSegment, EffectDrivers, PolicyRow, QiniSeries, SegmentArms,
};
use crate::numfmt::Money;
use crate::segment::sweep::KResult;

/// One colour per learner, in the order the curves name them.
const LEARNER_COLOURS: [&str; 7] = [
    "#2563eb", "#f28e2b", "#59a14f", "#b07aa1", "#e15759", "#76b7b2", "#9c755f",
];
/// The accent colour (the dashboard's).
const ACCENT: &str = "#2563eb";
/// Reference marks: the random-targeting line, flat policies, "actual" bars.
const GREY: &str = "#9aa5b1";
/// Dashed reference lines.
const REFERENCE: &str = "#6b7280";
/// A metric's line across k.
const STEEL: &str = "#3b6ea8";
/// The chosen k.
const CHOSEN: &str = "#d62728";
/// The band behind the chosen k.
const BAND: &str = "#fdecea";
/// Bars after the first (the accent) of a ranking.
const LIGHT: &str = "#7aa5f0";
/// Segment colours by the segment's position among the sorted cluster ids (the page's
/// `CLUSTER_COLORS`, which its other charts use too).
const CLUSTER_COLOURS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#86bcb6",
];
/// Customers without a segment profile.
const UNASSIGNED: &str = "#9a9a9a";
/// Share-of-customers bars.
const SHARE_GREY: &str = "#b8c2cc";
/// Most points a scatter draws; beyond this the picture no longer changes.
pub(crate) use super::charts::MAX_DRAWN_POINTS as MAX_SCATTER_POINTS;

/// Positive and negative bars.
const GREEN: &str = "#59a14f";
const RED: &str = "#e15759";
/// Stage timings.
const TEAL: &str = "#76b7b2";
/// Learners' policies.
const ORANGE: &str = "#f28e2b";
/// The truth.
const INK: &str = "#111827";
/// At most this many bars in a ranking.
const MAX_BARS: usize = 20;

/// The figures `dashboard.html` draws with its generic renderer, by view.
#[derive(Debug, Default, Serialize)]
pub(crate) struct DashboardFigures {
    /// One Qini figure per outcome and arm vs the control (a selector picks one).
    pub qini: Vec<Figure>,
    /// The value-vs-budget curve (the page adds the slider's point).
    pub budget: Option<Figure>,
    /// Holdout purchases, actual vs expected.
    pub clv_holdout: Option<Figure>,
    /// Inertia, silhouette, Davies–Bouldin and Calinski–Harabasz against k (the page shows
    /// the silhouette and Davies–Bouldin).
    pub k_selection: Vec<Figure>,
    /// Mean |SHAP| per feature, for every customer and per segment.
    pub shap_importance: BySegment,
    /// The ten merchants with the most margin headroom.
    pub merchant_headroom: Option<Figure>,
    /// Rows after each ingest step.
    pub ingest_funnel: Option<Figure>,
    /// Seconds per pipeline stage.
    pub stage_times: Option<Figure>,
    /// What drives the learned effect of the first explained arm.
    pub effect_drivers: Option<Figure>,
    /// Policy values with their 95% intervals (and the truth on a simulated test).
    pub offer_policies: Option<Figure>,
    /// Test RMSE per model family.
    pub model_comparison: Option<Figure>,
    /// Average item price against total spend, by segment (log–log).
    pub price_spend: Option<Figure>,
    /// Each segment's share of the customers and of the revenue.
    pub segment_shares: Option<Figure>,
    /// Impurity and permutation importance, each as a share of its total.
    pub feature_importance: Option<Figure>,
    /// Expected value gained over the flat rate, per persona.
    pub segment_value: Option<Figure>,
    /// Total lifetime value per persona.
    pub clv_by_segment: Option<Figure>,
    /// The model's predicted rate against the oracle rate, per sampled customer.
    pub predicted_vs_optimal: Option<Figure>,
    /// Expected value of the flat rate, the model's tiers and the oracle, for everyone and
    /// per segment.
    pub policy_value: BySegment,
    /// The recommended arm's share of each persona's customers.
    pub offer_by_segment: Option<Figure>,
    /// Customers per cashback tier, stacked by segment; per segment its own counts.
    pub tier_bars: BySegment,
    /// The sampled customers' total spend on log bins, stacked by segment; per segment its own.
    pub spend_histogram: BySegment,
    /// SHAP values per customer of the ten most important features, shaded by feature value.
    pub shap_beeswarm: Option<Figure>,
    /// Feature value against SHAP value, one figure per feature (a selector picks one).
    pub shap_dependence: Vec<Figure>,
    /// Each persona's share of customers per tier.
    pub tier_heatmap: Option<Figure>,
    /// Commission against recommended rate per merchant, sized by spend.
    pub merchant_rates: Option<Figure>,
    /// Customers per arm along the budget curve.
    pub budget_arms: Option<Figure>,
}

/// One customer in the segment scatter.
pub(crate) struct SegmentPoint {
    pub total_spent: f64,
    pub avg_item_price: f64,
    /// Cluster id (matches [`SegmentSummary::cluster`]).
    pub cluster: usize,
}

/// One segment, for the scatter's legend and the share bars.
pub(crate) struct SegmentSummary {
    pub cluster: usize,
    /// Persona name, e.g. "High-value whales".
    pub persona: String,
    /// Customers in the segment.
    pub size: usize,
    /// Share of total revenue, a fraction.
    pub share_revenue: f64,
}

/// A chart that follows the segment filter: `all` without a segment selected, else the
/// selected cluster's figure (a cluster without one has nothing to show).
#[derive(Debug, Default, Serialize)]
pub(crate) struct BySegment {
    pub all: Option<Figure>,
    /// By cluster id (as text: JSON object keys).
    pub by_cluster: BTreeMap<String, Figure>,
}

/// Every figure of the page, from its data.
pub(crate) fn dashboard(data: &super::dashboard::DashboardData) -> DashboardFigures {
    let money = Money::new(&data.meta.currency);
    let segments = page_segments(data);
    let swarm: Vec<SwarmFeature> = data
        .shap_points
        .iter()
        .map(|p| SwarmFeature {
            feature: &p.feature,
            values: &p.values,
            shap: &p.shap,
            cluster: &p.cluster,
        })
        .collect();
    DashboardFigures {
        qini: data
            .offers
            .as_ref()
            .map(|o| qini(&o.curves, o.arms.first().map_or("control", String::as_str)))
            .unwrap_or_default(),
        budget: data
            .budget
            .as_ref()
            .filter(|b| !b.cost.is_empty())
            .map(|b| budget_curve(b, &money, false)),
        clv_holdout: data
            .clv
            .as_ref()
            .and_then(|c| clv_holdout(&c.holdout, None)),
        k_selection: k_selection(&data.k_selection),
        shap_importance: shap_by_segment(&data.shap_importance, &data.shap_points),
        merchant_headroom: merchant_headroom(&data.merchants, &money),
        ingest_funnel: ingest_funnel(&data.ingest_report),
        stage_times: stage_times(&data.pipeline),
        effect_drivers: data
            .offers
            .as_ref()
            .and_then(|o| effect_drivers(o.drivers.first()?, &o.outcome)),
        offer_policies: data
            .offers
            .as_ref()
            .and_then(|o| offer_policies(&o.policies, &o.outcome, &money)),
        model_comparison: model_comparison(&data.models),
        price_spend: page_price_spend(data),
        segment_shares: segment_shares(&segments),
        feature_importance: feature_importance(&data.feature_importance),
        segment_value: segment_value(&data.segments, &segments, data.kpis.flat_rate, &money),
        clv_by_segment: data
            .clv
            .as_ref()
            .and_then(|c| clv_by_segment(&c.by_segment, &segments, &money)),
        predicted_vs_optimal: predicted_vs_optimal(data),
        policy_value: policy_value(data, &money),
        offer_by_segment: data
            .offers
            .as_ref()
            .and_then(|o| offer_by_segment(&o.by_segment, &o.arms)),
        tier_bars: tier_bars(&data.tiers, &segments),
        spend_histogram: spend_histogram(data, &money),
        shap_beeswarm: shap_beeswarm(&swarm, 10, BEESWARM_POINTS, &|c| {
            segment_style(&segments, c).map_or(format!("C{c}"), |s| s.1)
        }),
        shap_dependence: shap_dependence(&swarm, 0, &segments),
        tier_heatmap: tier_heatmap(&data.tiers, &segments),
        merchant_rates: merchant_rates(&data.merchants, &money),
        budget_arms: data.budget.as_ref().and_then(|b| budget_arms(b, &money)),
    }
}

/// The page's segments as [`SegmentSummary`]s.
fn page_segments(data: &super::dashboard::DashboardData) -> Vec<SegmentSummary> {
    data.segments
        .iter()
        .map(|s| SegmentSummary {
            cluster: s.cluster,
            persona: s.persona.clone(),
            size: s.size,
            share_revenue: s.share_revenue,
        })
        .collect()
}

/// The page's scatter: its sample of customers, each with a tooltip.
fn page_price_spend(data: &super::dashboard::DashboardData) -> Option<Figure> {
    let money = Money::new(&data.meta.currency);
    let points: Vec<SegmentPoint> = data
        .customers
        .iter()
        .map(|c| SegmentPoint {
            total_spent: c.total_spent,
            avg_item_price: c.avg_item_price,
            cluster: c.cluster,
        })
        .collect();
    price_spend(&points, &page_segments(data), MAX_SCATTER_POINTS, |i| {
        let c = &data.customers[i];
        format!(
            "Customer {}\nC{} · {}\nTotal spent: {}\nAvg item price: {:.2}\nInvoices: {}",
            c.customer_id,
            c.cluster,
            c.persona,
            money.fmt(c.total_spent),
            c.avg_item_price,
            crate::numfmt::grouped(c.n_invoices as u64)
        )
    })
}

/// Qini curves: a figure per outcome and arm vs `control` (in the order the series name them),
/// a line per learner, the random-targeting diagonal, tooltips at the middle and the end.
pub(crate) fn qini(series: &[QiniSeries], control: &str) -> Vec<Figure> {
    let mut panels: Vec<(&str, &str)> = Vec::new();
    for s in series {
        if !panels.contains(&(s.outcome.as_str(), s.arm.as_str())) {
            panels.push((&s.outcome, &s.arm));
        }
    }
    panels
        .into_iter()
        .map(|(outcome, arm)| {
            let curves: Vec<&QiniSeries> = series
                .iter()
                .filter(|s| s.outcome == outcome && s.arm == arm)
                .collect();
            let gains = curves.iter().flat_map(|c| c.gain.iter().copied());
            let (lo, hi) = gains
                .filter(|g| g.is_finite())
                .fold((0.0f64, 0.0f64), |(lo, hi), g| (lo.min(g), hi.max(g)));
            let mut figure = Figure::new(
                format!("{arm} vs {control} — {outcome}"),
                Axis::fixed(
                    "Share of held-out customers targeted (by predicted effect)",
                    0.0,
                    1.0,
                    vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                    Format::Pct0,
                ),
                Axis::nice(
                    &format!("Incremental {outcome}"),
                    lo,
                    hi,
                    5,
                    Format::Compact,
                ),
            );
            if let Some((fx, gy)) = curves
                .first()
                .and_then(|c| Some((*c.fraction.last()?, *c.gain.last()?)))
            {
                figure
                    .mark(Mark::Rules {
                        x0: vec![0.0],
                        y0: vec![0.0],
                        x1: vec![fx],
                        y1: vec![gy],
                        colour: REFERENCE.into(),
                        width: 1.2,
                        dashed: true,
                    })
                    .mark(Mark::Text {
                        x: fx * 0.6,
                        y: gy * 0.6,
                        text: "random targeting".into(),
                        anchor: Anchor::Start,
                        dx: 6.0,
                        dy: 16.0,
                        value: false,
                        cluster: None,
                    });
            }
            for (i, c) in curves.iter().enumerate() {
                let colour = LEARNER_COLOURS[i % LEARNER_COLOURS.len()];
                figure.mark(Mark::Line {
                    x: c.fraction.clone(),
                    y: c.gain.clone(),
                    colour: colour.into(),
                    width: 2.0,
                    dashed: false,
                });
                let n = c.fraction.len().min(c.gain.len());
                if n > 1 {
                    let picks = [n / 2, n - 1];
                    let tip = |k: usize| {
                        format!(
                            "{} · {arm}\nTargeting {:.0}%: {:.2}\nNormalised Qini: {}",
                            c.learner,
                            c.fraction[k] * 100.0,
                            c.gain[k],
                            c.qini.map_or("—".into(), |q| format!("{q:.4}"))
                        )
                    };
                    figure.mark(Mark::Points {
                        x: picks.iter().map(|&k| c.fraction[k]).collect(),
                        y: picks.iter().map(|&k| c.gain[k]).collect(),
                        colour: colour.into(),
                        radius: 3.5,
                        square: false,
                        hollow: false,
                        hover: true,
                        tips: picks.iter().map(|&k| tip(k)).collect(),
                        cluster: None,
                    });
                }
                let label = match c.qini {
                    Some(q) if q.is_finite() => format!("{} (Qini {q:.3})", c.learner),
                    _ => c.learner.clone(),
                };
                figure.key(label, colour, true);
            }
            figure
        })
        .collect()
}

/// The targeted allocation's value against its budget, every flat policy as a point, and (for
/// the PNG) the chosen budget's integer allocation; the dashboard draws its slider's point
/// instead.
pub(crate) fn budget_curve(view: &BudgetView, money: &Money, chosen: bool) -> Figure {
    let finite = |v: &f64| v.is_finite();
    let xs = view.cost.iter().chain(view.flat.iter().map(|p| &p.cost));
    let ys = view.value.iter().chain(view.flat.iter().map(|p| &p.value));
    let x_max = xs.copied().filter(finite).fold(0.0f64, f64::max);
    let (y_min, y_max) = ys
        .copied()
        .filter(finite)
        .fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let mut figure = Figure::new(
        "Value against budget",
        Axis::nice(
            "Expected cashback spent (budget)",
            0.0,
            x_max,
            6,
            Format::MoneyShort,
        ),
        Axis::nice(
            "Expected incremental profit",
            y_min,
            y_max.max(y_min),
            5,
            Format::MoneyShort,
        ),
    );
    figure.height = 320;
    figure.left = 68;
    figure.mark(Mark::Line {
        x: view.cost.clone(),
        y: view.value.clone(),
        colour: ACCENT.into(),
        width: 2.4,
        dashed: false,
    });
    let flat: Vec<_> = view
        .flat
        .iter()
        .filter(|p| p.cost.is_finite() && p.value.is_finite())
        .collect();
    figure.mark(Mark::Points {
        x: flat.iter().map(|p| p.cost).collect(),
        y: flat.iter().map(|p| p.value).collect(),
        colour: GREY.into(),
        radius: 5.0,
        square: false,
        hollow: false,
        hover: false,
        tips: flat
            .iter()
            .map(|p| {
                let pct = p.gain_pct.map_or(String::new(), |g| {
                    format!(", {}{g:.1}%", if g >= 0.0 { "+" } else { "" })
                });
                format!(
                    "Everyone on {}\nCost: {}\nValue: {}\nTargeted at the same cost: {} ({}{pct})",
                    p.arm,
                    money.fmt(p.cost),
                    money.fmt(p.value),
                    money.fmt(p.targeted_value),
                    money.signed(p.gain)
                )
            })
            .collect(),
        cluster: None,
    });
    for p in &flat {
        // Labels near the right edge go to the left of their point.
        let right = p.cost > figure.x.lo + 0.88 * (figure.x.hi - figure.x.lo);
        figure.mark(Mark::Text {
            x: p.cost,
            y: p.value,
            text: format!("flat {}", p.arm),
            anchor: if right { Anchor::End } else { Anchor::Start },
            dx: if right { -8.0 } else { 7.0 },
            dy: if right { -8.0 } else { 4.0 },
            value: false,
            cluster: None,
        });
    }
    figure.key("targeted allocation", ACCENT, true);
    figure.key("flat rate for everyone", GREY, false);
    if chosen && view.integer_cost.is_finite() && view.integer_value.is_finite() {
        figure
            .mark(Mark::Rules {
                x0: vec![view.integer_cost],
                y0: vec![figure.y.lo],
                x1: vec![view.integer_cost],
                y1: vec![figure.y.hi],
                colour: REFERENCE.into(),
                width: 1.2,
                dashed: true,
            })
            .mark(Mark::Points {
                x: vec![view.integer_cost],
                y: vec![view.integer_value],
                colour: ACCENT.into(),
                radius: 6.5,
                square: false,
                hollow: false,
                hover: false,
                tips: vec![format!(
                    "Budget {}\nValue {}",
                    money.fmt(view.integer_cost),
                    money.fmt(view.integer_value)
                )],
                cluster: None,
            })
            .mark(Mark::Text {
                x: view.integer_cost,
                y: view.integer_value,
                text: format!("chosen: {}", money.fmt(view.integer_cost)),
                anchor: Anchor::Start,
                dx: 10.0,
                dy: 22.0,
                value: false,
                cluster: None,
            });
    }
    figure
}

/// The BG/NBD check: mean holdout purchases per customer, actual beside expected, by repeat
/// purchases in the calibration period (the "all" row is left out). `period` ("39.0 weeks")
/// goes into the title. None without rows.
pub(crate) fn clv_holdout(rows: &[ClvHoldoutRow], period: Option<&str>) -> Option<Figure> {
    let rows: Vec<&ClvHoldoutRow> = rows
        .iter()
        .filter(|r| r.calibration_frequency != "all")
        .collect();
    if rows.is_empty() {
        return None;
    }
    let top = rows
        .iter()
        .flat_map(|r| [r.actual_mean, r.expected_mean])
        .filter(|v| v.is_finite())
        .fold(0.1f64, f64::max);
    let title = match period {
        Some(p) => format!("Holdout purchases per customer, actual vs BG/NBD expected ({p})"),
        None => "Holdout purchases per customer, actual vs BG/NBD expected".to_string(),
    };
    let mut figure = Figure::new(
        title,
        Axis::categories(
            "Repeat purchases in the calibration period",
            rows.iter()
                .map(|r| r.calibration_frequency.clone())
                .collect(),
        ),
        Axis::nice("Purchases per customer", 0.0, top, 5, Format::Num),
    );
    figure.left = 56;
    let tips: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "Calibration frequency {} ({} customers)\nActual: {:.3}\nExpected (BG/NBD): {:.3}",
                r.calibration_frequency,
                crate::numfmt::grouped(r.customers as u64),
                r.actual_mean,
                r.expected_mean
            )
        })
        .collect();
    for (offset, colour, value) in [
        (
            -0.35,
            GREY,
            &(|r: &ClvHoldoutRow| r.actual_mean) as &dyn Fn(&ClvHoldoutRow) -> f64,
        ),
        (0.0, ACCENT, &|r: &ClvHoldoutRow| r.expected_mean),
    ] {
        let x0: Vec<f64> = (0..rows.len()).map(|i| i as f64 + offset + 0.02).collect();
        figure.mark(Mark::Rects {
            x1: x0.iter().map(|x| x + 0.31).collect(),
            x0,
            y0: vec![0.0; rows.len()],
            y1: rows.iter().map(|r| value(r).max(0.0)).collect(),
            colours: vec![colour.into(); rows.len()],
            tips: tips.clone(),
            cluster: None,
        });
    }
    figure.key("actual", GREY, false);
    figure.key("expected (BG/NBD)", ACCENT, false);
    Some(figure)
}

/// The title over the four k-selection figures: "… KMeans, k = 2–8".
pub(crate) fn k_selection_title(rows: &[KResult]) -> String {
    let lo = rows.iter().map(|r| r.k).min();
    let hi = rows.iter().map(|r| r.k).max();
    match (lo, hi) {
        (Some(a), Some(b)) if a != b => {
            format!("Choosing the number of segments — KMeans, k = {a}–{b}")
        }
        (Some(a), _) => format!("Choosing the number of segments — KMeans, k = {a}"),
        _ => "Choosing the number of segments — KMeans".to_string(),
    }
}

/// Choosing k: a figure per quality metric (inertia, silhouette, Davies–Bouldin,
/// Calinski–Harabasz) against k, the chosen k on a band and ringed, the silhouette's points
/// labelled with the size of the smallest cluster (a very high silhouette with a tiny cluster
/// is the outlier artefact of heavy-tailed features, SPEC §6). Empty without rows.
pub(crate) fn k_selection(rows: &[KResult]) -> Vec<Figure> {
    let mut rows: Vec<&KResult> = rows.iter().collect();
    rows.sort_by_key(|r| r.k);
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Vec::new();
    };
    let (k_lo, k_hi) = (first.k as f64, last.k as f64);
    let step = ((k_hi - k_lo) / 12.0).ceil().max(1.0);
    let k_ticks: Vec<f64> = rows
        .iter()
        .map(|r| r.k as f64)
        .filter(|k| ((k - k_lo) / step).fract() == 0.0)
        .collect();
    let best = rows.iter().find(|r| r.best).or_else(|| {
        rows.iter()
            .filter(|r| r.silhouette.is_finite())
            .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette))
    });
    let tips: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "k = {}{}\nSilhouette: {:.3}\nDavies–Bouldin: {:.3}\nCalinski–Harabasz: {:.0}\nInertia: {:.0}\nSmallest cluster: {}",
                r.k,
                if r.best { " (chosen)" } else { "" },
                r.silhouette,
                r.davies_bouldin,
                r.calinski_harabasz,
                r.inertia,
                crate::numfmt::grouped(r.min_cluster_size as u64)
            )
        })
        .collect();
    type Metric = fn(&KResult) -> f64;
    let metrics: [(&str, &str, Format, Metric); 4] = [
        (
            "Inertia — look for the elbow",
            "Within-cluster SS",
            Format::Compact,
            |r| r.inertia,
        ),
        (
            "Silhouette — higher is better",
            "Mean silhouette",
            Format::Num,
            |r| r.silhouette,
        ),
        (
            "Davies–Bouldin — lower is better",
            "Davies–Bouldin",
            Format::Num,
            |r| r.davies_bouldin,
        ),
        (
            "Calinski–Harabasz — higher is better",
            "Calinski–Harabasz",
            Format::Compact,
            |r| r.calinski_harabasz,
        ),
    ];
    metrics
        .iter()
        .enumerate()
        .map(|(i, (title, y_label, format, metric))| {
            let shown: Vec<(usize, &KResult)> = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| metric(r).is_finite())
                .map(|(j, r)| (j, *r))
                .collect();
            let values = shown.iter().map(|(_, r)| metric(r));
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            // Room above the points for the silhouette's labels.
            let span = (hi - lo).max(hi.abs() * 0.05).max(1e-9);
            let top = if i == 1 { 0.3 } else { 0.08 };
            let mut figure = Figure::new(
                *title,
                Axis::fixed(
                    "Number of clusters k",
                    k_lo - 0.5,
                    k_hi + 0.5,
                    k_ticks.clone(),
                    Format::Int,
                ),
                Axis::nice(y_label, lo - span * 0.08, hi + span * top, 5, *format),
            );
            figure.left = 60;
            if let Some(b) = best {
                let k = b.k as f64;
                figure.mark(Mark::Rects {
                    x0: vec![k - 0.4],
                    x1: vec![k + 0.4],
                    y0: vec![figure.y.lo],
                    y1: vec![figure.y.hi],
                    colours: vec![BAND.into()],
                    tips: vec![String::new()],
                    cluster: None,
                });
            }
            figure.mark(Mark::Line {
                x: shown.iter().map(|(_, r)| r.k as f64).collect(),
                y: shown.iter().map(|(_, r)| metric(r)).collect(),
                colour: STEEL.into(),
                width: 2.2,
                dashed: false,
            });
            figure.mark(Mark::Points {
                x: shown.iter().map(|(_, r)| r.k as f64).collect(),
                y: shown.iter().map(|(_, r)| metric(r)).collect(),
                colour: STEEL.into(),
                radius: 4.0,
                square: false,
                hollow: false,
                hover: false,
                tips: shown.iter().map(|(j, _)| tips[*j].clone()).collect(),
                cluster: None,
            });
            if let Some(b) = best.filter(|b| metric(b).is_finite()) {
                let j = rows.iter().position(|r| r.k == b.k).unwrap_or(0);
                figure.mark(Mark::Points {
                    x: vec![b.k as f64],
                    y: vec![metric(b)],
                    colour: CHOSEN.into(),
                    radius: 5.5,
                    square: false,
                    hollow: false,
                    hover: false,
                    tips: vec![tips[j].clone()],
                    cluster: None,
                });
            }
            if i == 1 {
                for (_, r) in &shown {
                    figure.mark(Mark::Text {
                        x: r.k as f64,
                        y: metric(r),
                        text: format!("min {}", crate::numfmt::grouped(r.min_cluster_size as u64)),
                        anchor: Anchor::Middle,
                        dx: 0.0,
                        dy: -9.0,
                        value: false,
                        cluster: None,
                    });
                }
            }
            // The silhouette chooses k, and its figure says so (its room above the points
            // keeps the key clear of them; the other figures only show the band).
            if let Some(b) = best.filter(|_| i == 1) {
                figure.key(
                    format!(
                        "chosen k = {} (silhouette {:.3}); labels: smallest cluster",
                        b.k, b.silhouette
                    ),
                    CHOSEN,
                    false,
                );
            }
            figure
        })
        .collect()
}

/// One bar of a ranking.
pub(crate) struct Bar {
    pub label: String,
    pub value: f64,
    /// The value as printed at the bar's end.
    pub text: String,
    pub tip: String,
    pub colour: String,
    /// The segment the bar stands for (faded in the page when another is selected).
    pub cluster: Option<usize>,
}

/// Horizontal bars, first on top, each with its value printed at its end; non-finite values
/// are left out. `left`: room for the bar labels in the page, pixels.
pub(crate) fn hbars(title: &str, x_label: &str, bars: &[Bar], format: Format, left: u32) -> Figure {
    let bars: Vec<&Bar> = bars.iter().filter(|b| b.value.is_finite()).collect();
    let n = bars.len();
    let (lo, hi) = bars.iter().fold((0.0f64, 0.0f64), |(lo, hi), b| {
        (lo.min(b.value), hi.max(b.value))
    });
    // Room at the ends for the printed values.
    let pad = (hi - lo) * 0.12;
    let names = bars.iter().rev().map(|b| b.label.clone()).collect();
    let mut figure = Figure::new(
        title,
        Axis::nice(
            x_label,
            if lo < 0.0 { lo - pad } else { 0.0 },
            if hi > 0.0 { hi + pad } else { 0.0 },
            5,
            format,
        ),
        Axis::categories("", names),
    );
    figure.height = (n as u32 * 26 + 58).max(120);
    figure.left = left;
    let row = |i: usize| (n - 1 - i) as f64;
    for (i, b) in bars.iter().enumerate() {
        figure.mark(Mark::Rects {
            x0: vec![b.value.min(0.0)],
            x1: vec![b.value.max(0.0)],
            y0: vec![row(i) - 0.32],
            y1: vec![row(i) + 0.32],
            colours: vec![b.colour.clone()],
            tips: vec![b.tip.clone()],
            cluster: b.cluster,
        });
    }
    for (i, b) in bars.iter().enumerate() {
        let right = b.value >= 0.0;
        figure.mark(Mark::Text {
            x: b.value,
            y: row(i),
            text: b.text.clone(),
            anchor: if right { Anchor::Start } else { Anchor::End },
            dx: if right { 5.0 } else { -5.0 },
            dy: 4.0,
            value: true,
            cluster: None,
        });
    }
    figure
}

/// Mean |SHAP| per feature as a ranking (at most [`MAX_BARS`]); `customers` is the number of
/// sampled customers behind each value (tooltips), `None` for the whole population. None
/// without a finite value.
fn shap_ranking(title: &str, rows: &[(String, f64)], customers: Option<usize>) -> Option<Figure> {
    let mut rows: Vec<&(String, f64)> = rows.iter().filter(|r| r.1.is_finite()).collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: f64 = rows.iter().map(|r| r.1).sum();
    let shown = rows.len().min(MAX_BARS);
    let bars: Vec<Bar> = rows[..shown]
        .iter()
        .enumerate()
        .map(|(i, (feature, v))| Bar {
            colour: if i == 0 { ACCENT } else { LIGHT }.to_string(),
            label: feature.clone(),
            value: *v,
            text: format!("{:.2} pp", v * 100.0),
            tip: format!(
                "{feature}\nMean |SHAP|: {:.3} pp\nShare of attribution: {:.1}%{}",
                v * 100.0,
                if total > 0.0 { v / total * 100.0 } else { 0.0 },
                customers.map_or(String::new(), |n| format!(
                    "\nSampled customers: {}",
                    crate::numfmt::grouped(n as u64)
                ))
            ),
            cluster: None,
        })
        .collect();
    let title = if rows.len() > shown {
        format!("{title} (top {shown} of {})", rows.len())
    } else {
        title.to_string()
    };
    Some(hbars(
        &title,
        "mean(|SHAP value|) of the predicted rate",
        &bars,
        Format::Pp,
        170,
    ))
}

/// Feature importance by mean |SHAP| (`shap_feature_importance.png` and the page's chart).
pub(crate) fn shap_importance(rows: &[(String, f64)]) -> Option<Figure> {
    shap_ranking("Feature importance — mean |SHAP value|", rows, None)
}

/// The page's SHAP importance: the importance table for everyone, and per cluster the mean
/// |φ| of that cluster's sampled customers.
fn shap_by_segment(importance: &[ShapImportanceRow], points: &[ShapPointsRow]) -> BySegment {
    let all: Vec<(String, f64)> = importance
        .iter()
        .map(|r| (r.feature.clone(), r.mean_abs_shap))
        .collect();
    let mut clusters: Vec<usize> = points
        .iter()
        .flat_map(|p| p.cluster.iter().copied())
        .collect();
    clusters.sort_unstable();
    clusters.dedup();
    let by_cluster = clusters
        .into_iter()
        .filter_map(|c| {
            let mut n = 0;
            let rows: Vec<(String, f64)> = points
                .iter()
                .map(|p| {
                    let v: Vec<f64> = p
                        .shap
                        .iter()
                        .zip(&p.cluster)
                        .filter(|(_, &k)| k == c)
                        .map(|(s, _)| s.abs())
                        .collect();
                    n = v.len();
                    (p.feature.clone(), v.iter().sum::<f64>() / v.len() as f64)
                })
                .collect();
            let title = "Feature importance — mean |SHAP value|";
            Some((c.to_string(), shap_ranking(title, &rows, Some(n))?))
        })
        .collect();
    BySegment {
        all: shap_importance(&all),
        by_cluster,
    }
}

/// The merchants with the most margin headroom ((commission − recommended rate) × spend), ten
/// at most, green above zero and red below. None without a finite headroom.
fn merchant_headroom(merchants: &[MerchantRow], money: &Money) -> Option<Figure> {
    let headroom = |m: &MerchantRow| (m.commission - m.recommended_rate) * m.spend;
    let mut rows: Vec<&MerchantRow> = merchants
        .iter()
        .filter(|m| headroom(m).is_finite())
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| {
        headroom(b)
            .total_cmp(&headroom(a))
            .then_with(|| a.name.cmp(&b.name))
    });
    let bars: Vec<Bar> = rows
        .iter()
        .take(10)
        .map(|m| {
            let h = headroom(m);
            let city = if m.city.is_empty() {
                String::new()
            } else {
                format!(" ({})", m.city)
            };
            Bar {
                label: m.name.clone(),
                value: h,
                text: money.short(h),
                tip: format!(
                    "{}{city}\nCommission: {}\nRecommended rate: {}\nSpend: {}\nHeadroom: {}",
                    m.name,
                    crate::numfmt::rate(m.commission),
                    crate::numfmt::rate(m.recommended_rate),
                    money.fmt(m.spend),
                    money.fmt(h)
                ),
                colour: if h >= 0.0 { GREEN } else { RED }.to_string(),
                cluster: None,
            }
        })
        .collect();
    Some(hbars(
        "Margin headroom per merchant",
        "",
        &bars,
        Format::MoneyShort,
        190,
    ))
}

/// Rows after each ingest step, a colour per source, with what each step dropped.
fn ingest_funnel(rows: &[IngestRow]) -> Option<Figure> {
    if rows.is_empty() {
        return None;
    }
    let mut previous: BTreeMap<&str, usize> = BTreeMap::new();
    let bars: Vec<Bar> = rows
        .iter()
        .map(|r| {
            let before = previous.insert(&r.source, r.rows);
            let dropped = before.map_or(String::new(), |b| {
                let drop = b as f64 - r.rows as f64;
                let share = if b > 0 {
                    format!(" ({:.1}%)", drop / b as f64 * 100.0)
                } else {
                    String::new()
                };
                let sign = if drop < 0.0 { "-" } else { "" };
                format!(
                    "\nDropped: {sign}{}{share}",
                    crate::numfmt::grouped(drop.abs() as u64)
                )
            });
            Bar {
                label: format!("{} · {}", r.source, r.step),
                value: r.rows as f64,
                text: crate::numfmt::grouped(r.rows as u64),
                tip: format!(
                    "{}: {}\nRows: {}{dropped}",
                    r.source,
                    r.step,
                    crate::numfmt::grouped(r.rows as u64)
                ),
                colour: match r.source.as_str() {
                    "retail" => "#4e79a7",
                    "social" => "#b07aa1",
                    "merchants" => "#f28e2b",
                    _ => GREY,
                }
                .to_string(),
                cluster: None,
            }
        })
        .collect();
    Some(hbars(
        "Rows after each ingest step",
        "",
        &bars,
        Format::Compact,
        230,
    ))
}

/// Seconds per pipeline stage, with the rows each wrote.
fn stage_times(rows: &[StageRow]) -> Option<Figure> {
    if rows.is_empty() {
        return None;
    }
    let bars: Vec<Bar> = rows
        .iter()
        .map(|r| Bar {
            label: r.stage.clone(),
            value: r.seconds,
            text: format!(
                "{:.*} s · {} rows",
                if r.seconds < 10.0 { 2 } else { 1 },
                r.seconds,
                super::charts::fmt_compact(r.rows_out as f64)
            ),
            tip: format!(
                "{}\nTime: {:.3} s\nRows out: {}",
                r.stage,
                r.seconds,
                crate::numfmt::grouped(r.rows_out as u64)
            ),
            colour: TEAL.into(),
            cluster: None,
        })
        .collect();
    let mut figure = hbars(
        "Seconds per pipeline stage",
        "",
        &bars,
        Format::Seconds,
        110,
    );
    // The printed "0.52 s · 4.3k rows" needs more room than a number.
    figure.widen_x(0.25);
    Some(figure)
}

/// Mean |SHAP| of the effect model's features for one arm vs control.
fn effect_drivers(d: &EffectDrivers, outcome: &str) -> Option<Figure> {
    if d.features.is_empty() {
        return None;
    }
    let bars: Vec<Bar> = d
        .features
        .iter()
        .zip(&d.mean_abs_shap)
        .map(|(f, v)| Bar {
            label: f.clone(),
            value: *v,
            text: format!("{v:.1}"),
            tip: format!(
                "{f}\nMean |SHAP| on the effect of {}: {v:.2} {outcome}\nEffect model R² {:.3}",
                d.arm, d.fidelity_r2
            ),
            colour: ACCENT.into(),
            cluster: None,
        })
        .collect();
    let x_label = format!(
        "Mean |SHAP| on the effect of {} vs control ({outcome}); effect model R² {:.3}",
        d.arm, d.fidelity_r2
    );
    Some(hbars(
        "Drivers of the learned effect",
        &x_label,
        &bars,
        Format::Compact,
        190,
    ))
}

/// A policy's name as a person reads it: "everyone 2%" for the table's "everyone:2%".
fn policy_label(p: &PolicyRow) -> String {
    match p.policy.strip_prefix("everyone:") {
        Some(arm) if p.kind == "arm" => format!("everyone {arm}"),
        _ => p.policy.clone(),
    }
}

/// The offer test's policies on the held-out customers: each DR estimate with its 95%
/// interval, first on top, and on a simulated test the true value as a hollow square. The
/// recommended policy in the accent colour, single arms grey, the oracle green, learners
/// orange. None without a DR estimate.
fn offer_policies(policies: &[PolicyRow], outcome: &str, money: &Money) -> Option<Figure> {
    let rows: Vec<&PolicyRow> = policies
        .iter()
        .filter(|p| p.dr.is_some_and(f64::is_finite))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let n = rows.len();
    let values = rows
        .iter()
        .flat_map(|p| [p.dr, p.ci_low, p.ci_high, p.true_value])
        .flatten()
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let mut figure = Figure::new(
        "Policy values with 95% intervals",
        Axis::nice(
            &format!("Profit per held-out customer ({outcome})"),
            lo,
            hi,
            5,
            Format::Money,
        ),
        Axis::categories("", rows.iter().rev().map(|p| policy_label(p)).collect()),
    );
    figure.height = (n as u32 * 30 + 58).max(160);
    figure.left = 150;
    let simulated = rows
        .iter()
        .any(|p| p.true_value.is_some_and(f64::is_finite));
    for (i, p) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let colour = match p.kind.as_str() {
            "recommended" => ACCENT,
            "arm" => GREY,
            "oracle" => GREEN,
            _ => ORANGE,
        };
        let mut tip = format!(
            "{}\nDR value: {}",
            policy_label(p),
            money.fmt(p.dr.unwrap_or(f64::NAN))
        );
        if let (Some(l), Some(h)) = (p.ci_low, p.ci_high) {
            tip.push_str(&format!(
                "\n95% interval: {} to {}",
                money.fmt(l),
                money.fmt(h)
            ));
            figure.mark(Mark::Rules {
                x0: vec![l],
                y0: vec![y],
                x1: vec![h],
                y1: vec![y],
                colour: colour.into(),
                width: 2.0,
                dashed: false,
            });
        }
        if let Some(v) = p.ipw.filter(|v| v.is_finite()) {
            tip.push_str(&format!("\nIPW value: {}", money.fmt(v)));
        }
        if let Some(v) = p.true_value.filter(|v| v.is_finite()) {
            tip.push_str(&format!("\nTrue value (simulation): {}", money.fmt(v)));
        }
        if let Some(v) = p.regret_pct.filter(|v| v.is_finite()) {
            tip.push_str(&format!("\nRegret vs oracle: {v:.2}%"));
        }
        figure.mark(Mark::Points {
            x: vec![p.dr.unwrap_or(f64::NAN)],
            y: vec![y],
            colour: colour.into(),
            radius: if p.kind == "recommended" { 6.0 } else { 4.5 },
            square: false,
            hollow: false,
            hover: false,
            tips: vec![tip.clone()],
            cluster: None,
        });
        if let Some(v) = p.true_value.filter(|v| v.is_finite()) {
            figure.mark(Mark::Points {
                x: vec![v],
                y: vec![y],
                colour: INK.into(),
                radius: 4.0,
                square: true,
                hollow: true,
                hover: false,
                tips: vec![tip],
                cluster: None,
            });
        }
    }
    figure.key("DR estimate, 95% interval", ACCENT, false);
    if simulated {
        figure.key("true value (simulated test)", INK, false);
    }
    Some(figure)
}

/// Test RMSE per model family, best first, the final model in the accent colour (★).
fn model_comparison(models: &[ModelRow]) -> Option<Figure> {
    if models.is_empty() {
        return None;
    }
    let mut models: Vec<&ModelRow> = models.iter().collect();
    models.sort_by(|a, b| a.test_rmse.total_cmp(&b.test_rmse));
    let bars: Vec<Bar> = models
        .iter()
        .map(|m| {
            let star = if m.is_final { " ★" } else { "" };
            Bar {
                label: format!("{}{star}", m.family),
                value: m.test_rmse,
                text: format!("{:.2} pp · R² {:.3}", m.test_rmse * 100.0, m.test_r2),
                tip: format!(
                    "{}{}\nCV RMSE: {:.3} pp\nTest RMSE: {:.3} pp\nTest MAE: {:.3} pp\nTest R²: {:.4}",
                    m.family,
                    if m.is_final { " (final model)" } else { "" },
                    m.cv_rmse * 100.0,
                    m.test_rmse * 100.0,
                    m.test_mae * 100.0,
                    m.test_r2
                ),
                colour: if m.is_final { ACCENT } else { GREY }.into(),
                cluster: None,
            }
        })
        .collect();
    let mut figure = hbars(
        "Test RMSE per model family",
        "Test RMSE (lower is better; ★ = final model)",
        &bars,
        Format::Pp,
        130,
    );
    // Room for "0.31 pp · R² 0.944" at the longest bar's end.
    figure.widen_x(0.3);
    figure.height = (models.len() as u32 * 40 + 58).max(120);
    Some(figure)
}

/// A segment's colour and its label "C0 · Loyal regulars".
fn segment_style(segments: &[SegmentSummary], cluster: usize) -> Option<(&'static str, String)> {
    let mut ids: Vec<usize> = segments.iter().map(|s| s.cluster).collect();
    ids.sort_unstable();
    ids.dedup();
    let i = ids.binary_search(&cluster).ok()?;
    let persona = &segments.iter().find(|s| s.cluster == cluster)?.persona;
    Some((
        CLUSTER_COLOURS[i % CLUSTER_COLOURS.len()],
        format!("C{cluster} · {persona}"),
    ))
}

/// Average item price against total spend (both log scales), a colour per segment, the
/// largest segment drawn first so that small ones stay visible; at most `max_points`
/// customers (a fixed-hash subsample, said in the title). `tip(i)` is customer i's tooltip.
/// None without a customer of positive spend and price.
pub(crate) fn price_spend(
    points: &[SegmentPoint],
    segments: &[SegmentSummary],
    max_points: usize,
    tip: impl Fn(usize) -> String,
) -> Option<Figure> {
    let drawable: Vec<usize> = (0..points.len())
        .filter(|&i| {
            let p = &points[i];
            p.total_spent.is_finite()
                && p.avg_item_price.is_finite()
                && p.total_spent > 0.0
                && p.avg_item_price > 0.0
        })
        .collect();
    if drawable.is_empty() {
        return None;
    }
    let range = |v: &dyn Fn(&SegmentPoint) -> f64| {
        drawable
            .iter()
            .map(|&i| v(&points[i]))
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (x_lo, x_hi) = range(&|p| p.avg_item_price);
    let (y_lo, y_hi) = range(&|p| p.total_spent);
    let keep: Vec<usize> =
        super::charts::subsample_indices(drawable.len(), max_points, super::charts::SUBSAMPLE_SALT)
            .into_iter()
            .map(|k| drawable[k])
            .collect();
    let mut title = "Average item price vs total spend (log scales)".to_string();
    if keep.len() < drawable.len() {
        title.push_str(&format!(
            " — {} of {} customers drawn",
            crate::numfmt::grouped(keep.len() as u64),
            crate::numfmt::grouped(drawable.len() as u64)
        ));
    }
    let mut figure = Figure::new(
        title,
        Axis::log("Average item price", x_lo, x_hi, Format::MoneyShort),
        Axis::log("Total spent", y_lo, y_hi, Format::MoneyShort),
    );
    figure.left = 62;
    let mut order: Vec<&SegmentSummary> = segments.iter().collect();
    order.sort_by(|a, b| b.size.cmp(&a.size).then(a.cluster.cmp(&b.cluster)));
    let known: Vec<usize> = segments.iter().map(|s| s.cluster).collect();
    let groups = std::iter::once(None).chain(order.iter().map(|s| Some(s.cluster)));
    for group in groups {
        let members: Vec<usize> = keep
            .iter()
            .copied()
            .filter(|&i| match group {
                None => !known.contains(&points[i].cluster),
                Some(c) => points[i].cluster == c,
            })
            .collect();
        if members.is_empty() {
            continue;
        }
        let colour = group
            .and_then(|c| segment_style(segments, c))
            .map_or(UNASSIGNED, |(colour, _)| colour);
        figure.mark(Mark::Points {
            x: members
                .iter()
                .map(|&i| points[i].avg_item_price.log10())
                .collect(),
            y: members
                .iter()
                .map(|&i| points[i].total_spent.log10())
                .collect(),
            colour: colour.into(),
            radius: 2.6,
            square: false,
            hollow: false,
            hover: false,
            tips: members.iter().map(|&i| tip(i)).collect(),
            cluster: group,
        });
    }
    let mut ids: Vec<usize> = known.clone();
    ids.sort_unstable();
    for c in ids {
        if let Some((colour, label)) = segment_style(segments, c) {
            figure.key(label, colour, false);
            if let Some(key) = figure.legend.last_mut() {
                key.cluster = Some(c);
            }
        }
    }
    Some(figure)
}

/// Each segment's share of the customers (grey) beside its share of the revenue (its colour),
/// in cluster order. None without segments.
pub(crate) fn segment_shares(segments: &[SegmentSummary]) -> Option<Figure> {
    if segments.is_empty() {
        return None;
    }
    let mut rows: Vec<&SegmentSummary> = segments.iter().collect();
    rows.sort_by_key(|s| s.cluster);
    let total: usize = rows.iter().map(|s| s.size).sum();
    let share = |s: &SegmentSummary| {
        if total > 0 {
            s.size as f64 / total as f64
        } else {
            0.0
        }
    };
    let revenue = |s: &SegmentSummary| {
        if s.share_revenue.is_finite() {
            s.share_revenue
        } else {
            0.0
        }
    };
    let n = rows.len();
    let top = rows
        .iter()
        .map(|s| share(s).max(revenue(s)))
        .fold(0.05f64, f64::max);
    let labels: Vec<String> = rows
        .iter()
        .map(|s| {
            segment_style(segments, s.cluster).map_or_else(|| format!("C{}", s.cluster), |(_, l)| l)
        })
        .collect();
    let mut figure = Figure::new(
        "Share of customers vs share of revenue",
        Axis::nice("Share", 0.0, top * 1.12, 6, Format::Pct0),
        Axis::categories("", labels.iter().rev().cloned().collect()),
    );
    // Room above the first segment for the legend.
    figure.y.hi += 0.8;
    figure.height = (n as u32 * 50 + 58).max(160);
    figure.left = 215;
    for (i, s) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let colour = segment_style(segments, s.cluster).map_or(UNASSIGNED, |(c, _)| c);
        let tip = format!(
            "{}\nCustomers: {} ({:.1}%)\nRevenue share: {:.1}%",
            labels[i],
            crate::numfmt::grouped(s.size as u64),
            share(s) * 100.0,
            revenue(s) * 100.0
        );
        figure.mark(Mark::Rects {
            x0: vec![0.0, 0.0],
            x1: vec![share(s), revenue(s)],
            y0: vec![y + 0.03, y - 0.35],
            y1: vec![y + 0.35, y - 0.03],
            colours: vec![SHARE_GREY.into(), colour.into()],
            tips: vec![tip.clone(), tip],
            cluster: Some(s.cluster),
        });
        for (value, at) in [(share(s), y + 0.19), (revenue(s), y - 0.19)] {
            figure.mark(Mark::Text {
                x: value,
                y: at,
                text: format!("{:.1}%", value * 100.0),
                anchor: Anchor::Start,
                dx: 5.0,
                dy: 4.0,
                value: true,
                cluster: None,
            });
        }
    }
    figure.key("share of customers", SHARE_GREY, false);
    figure.key(
        "share of revenue (segment colour)",
        CLUSTER_COLOURS[0],
        false,
    );
    Some(figure)
}

/// Impurity and permutation importance of the top ten features (by impurity), each as its
/// share of its total so that both fit one axis. None without features.
fn feature_importance(rows: &[FeatureImportanceRow]) -> Option<Figure> {
    if rows.is_empty() {
        return None;
    }
    let total = |v: &dyn Fn(&FeatureImportanceRow) -> f64| -> f64 {
        rows.iter()
            .map(|r| v(r).max(0.0))
            .filter(|v| v.is_finite())
            .sum()
    };
    let (ti, tp) = (total(&|r| r.impurity), total(&|r| r.permutation));
    let share = |v: f64, t: f64| {
        if t > 0.0 && v.is_finite() {
            v.max(0.0) / t
        } else {
            0.0
        }
    };
    let mut rows: Vec<&FeatureImportanceRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        b.impurity
            .total_cmp(&a.impurity)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    rows.truncate(10);
    let n = rows.len();
    let top = rows
        .iter()
        .map(|r| share(r.impurity, ti).max(share(r.permutation, tp)))
        .fold(0.05f64, f64::max);
    let mut figure = Figure::new(
        "Impurity and permutation importance",
        Axis::nice("", 0.0, top * 1.1, 5, Format::Pct0),
        Axis::categories("", rows.iter().rev().map(|r| r.feature.clone()).collect()),
    );
    figure.height = (n as u32 * 34 + 58).max(120);
    figure.left = 160;
    for (i, r) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let (si, sp) = (share(r.impurity, ti), share(r.permutation, tp));
        let tip = format!(
            "{}\nImpurity: {:.4} ({:.1}%)\nPermutation: {:.5} ({:.1}%)",
            r.feature,
            r.impurity,
            si * 100.0,
            r.permutation,
            sp * 100.0
        );
        figure.mark(Mark::Rects {
            x0: vec![0.0, 0.0],
            x1: vec![si, sp],
            y0: vec![y + 0.02, y - 0.36],
            y1: vec![y + 0.36, y - 0.02],
            colours: vec![CLUSTER_COLOURS[0].into(), CLUSTER_COLOURS[1].into()],
            tips: vec![tip.clone(), tip],
            cluster: None,
        });
        figure.mark(Mark::Text {
            x: si.max(sp),
            y,
            text: format!("{:.0}%", si.max(sp) * 100.0),
            anchor: Anchor::Start,
            dx: 5.0,
            dy: 4.0,
            value: true,
            cluster: None,
        });
    }
    figure.key("impurity (share of total)", CLUSTER_COLOURS[0], false);
    figure.key("permutation (share of total)", CLUSTER_COLOURS[1], false);
    Some(figure)
}

/// Expected value gained by the model's tiers over the flat rate, per persona, in the
/// persona's colour (the sign shows in the bar's direction and its label).
fn segment_value(
    segments: &[SegmentRow],
    summaries: &[SegmentSummary],
    flat_rate: Option<f64>,
    money: &Money,
) -> Option<Figure> {
    let flat = flat_rate.map_or("the flat rate".to_string(), |r| {
        format!("Flat {}", crate::numfmt::rate(r))
    });
    let bars: Vec<Bar> = segments
        .iter()
        .filter_map(|s| {
            let (model, flat_value) = (s.value_predicted?, s.value_flat?);
            let gain = model - flat_value;
            let (colour, label) = segment_style(summaries, s.cluster)?;
            let oracle = s
                .value_oracle
                .map_or(String::new(), |v| format!("\nOracle: {}", money.fmt(v)));
            Some(Bar {
                label: s.persona.clone(),
                value: gain,
                text: money.signed(gain),
                tip: format!(
                    "{label}\nModel tiers: {}\n{flat}: {}{oracle}\nGain: {}",
                    money.fmt(model),
                    money.fmt(flat_value),
                    money.signed(gain)
                ),
                colour: colour.into(),
                cluster: Some(s.cluster),
            })
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let mut figure = hbars(
        "Expected value gained over the flat rate per persona",
        "",
        &bars,
        Format::MoneyShort,
        215,
    );
    figure.height = (bars.len() as u32 * 36 + 58).max(120);
    Some(figure)
}

/// Total lifetime value per persona, in the persona's colour, with the mean per customer.
fn clv_by_segment(
    rows: &[ClvSegment],
    segments: &[SegmentSummary],
    money: &Money,
) -> Option<Figure> {
    let bars: Vec<Bar> = rows
        .iter()
        .map(|r| Bar {
            label: format!("C{} · {}", r.cluster, r.persona),
            value: r.total_clv,
            text: format!("{} · {} each", money.short(r.total_clv), money.fmt(r.mean_clv)),
            tip: format!(
                "C{} · {}\nCustomers: {}\nTotal CLV: {}\nMean CLV: {}\nMean P(alive): {:.1}%\nValuable but slipping: {}",
                r.cluster,
                r.persona,
                crate::numfmt::grouped(r.customers as u64),
                money.fmt(r.total_clv),
                money.fmt(r.mean_clv),
                r.mean_p_alive * 100.0,
                crate::numfmt::grouped(r.slipping as u64)
            ),
            colour: segment_style(segments, r.cluster).map_or(UNASSIGNED, |(c, _)| c).into(),
            cluster: Some(r.cluster),
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let mut figure = hbars(
        "Total lifetime value per persona",
        "Total CLV",
        &bars,
        Format::MoneyShort,
        190,
    );
    figure.widen_x(0.35);
    Some(figure)
}

/// The `i`-th of `n` ordered tiers or arms: light to dark blue (the page's `tierColor`).
fn tier_colour(i: usize, n: usize) -> String {
    let t = if n <= 1 {
        1.0
    } else {
        i as f64 / (n - 1) as f64
    };
    let s = 0.15 + 0.85 * t;
    let mix = |a: f64, b: f64| (a + (b - a) * s).round() as u8;
    hex((mix(198.0, 8.0), mix(219.0, 48.0), mix(239.0, 107.0)))
}

/// Predicted against optimal (oracle) rate, a mark per segment, with the line of perfect
/// prediction. None without a customer having both.
fn predicted_vs_optimal(data: &super::dashboard::DashboardData) -> Option<Figure> {
    let customers: Vec<_> = data
        .customers
        .iter()
        .filter_map(|c| {
            let (p, o) = (c.predicted_rate?, c.optimal_rate?);
            (p.is_finite() && o.is_finite()).then_some((c, p, o))
        })
        .collect();
    if customers.is_empty() {
        return None;
    }
    let segments = page_segments(data);
    let (lo, hi) = customers
        .iter()
        .fold((0.0f64, 0.0f64), |(lo, hi), (_, p, o)| {
            (lo.min(p.min(*o)), hi.max(p.max(*o)))
        });
    let mut figure = Figure::new(
        "Predicted versus optimal cashback rate",
        Axis::nice("Optimal (oracle) rate", lo, hi, 5, Format::Rate),
        Axis::nice("Predicted rate", lo, hi, 5, Format::Rate),
    );
    let (a, b) = (figure.x.lo.max(figure.y.lo), figure.x.hi.min(figure.y.hi));
    figure.mark(Mark::Rules {
        x0: vec![a],
        y0: vec![a],
        x1: vec![b],
        y1: vec![b],
        colour: REFERENCE.into(),
        width: 1.2,
        dashed: true,
    });
    figure.mark(Mark::Text {
        x: b,
        y: b,
        text: "perfect prediction".into(),
        anchor: Anchor::End,
        dx: -4.0,
        dy: 14.0,
        value: false,
        cluster: None,
    });
    let mut clusters: Vec<usize> = customers.iter().map(|(c, _, _)| c.cluster).collect();
    clusters.sort_unstable();
    clusters.dedup();
    for cluster in clusters {
        let members: Vec<_> = customers
            .iter()
            .filter(|(c, _, _)| c.cluster == cluster)
            .collect();
        let colour = segment_style(&segments, cluster).map_or(UNASSIGNED, |(c, _)| c);
        figure.mark(Mark::Points {
            x: members.iter().map(|(_, _, o)| *o).collect(),
            y: members.iter().map(|(_, p, _)| *p).collect(),
            colour: colour.into(),
            radius: 2.6,
            square: false,
            hollow: false,
            hover: false,
            tips: members
                .iter()
                .map(|(c, p, o)| {
                    format!(
                        "Customer {}\nC{} · {}\nOptimal rate: {}\nPredicted rate: {}\nTier: {}",
                        c.customer_id,
                        c.cluster,
                        c.persona,
                        crate::numfmt::rate(*o),
                        crate::numfmt::rate(*p),
                        c.tier.map_or("—".into(), crate::numfmt::rate)
                    )
                })
                .collect(),
            cluster: Some(cluster),
        });
    }
    Some(figure)
}

/// Expected value of the flat rate, the model's tiers and the oracle as bars, each with its
/// share of the oracle's value.
fn policy_bars(
    values: [Option<f64>; 3],
    flat_rate: Option<f64>,
    scope: Option<&str>,
    money: &Money,
) -> Option<Figure> {
    let [flat, model, oracle] = values;
    let flat_label = flat_rate.map_or("Flat rate".to_string(), |r| {
        format!("Flat {}", crate::numfmt::rate(r))
    });
    let rows = [
        (flat_label, flat, GREY),
        ("Model tiers".to_string(), model, ACCENT),
        ("Oracle (best possible)".to_string(), oracle, GREEN),
    ];
    let bars: Vec<Bar> = rows
        .into_iter()
        .filter_map(|(label, value, colour)| {
            let value = value.filter(|v| v.is_finite())?;
            let of_oracle = oracle
                .filter(|o| o.is_finite() && *o != 0.0)
                .map_or(String::new(), |o| {
                    format!("{:.1}% of oracle", value / o * 100.0)
                });
            let text = if of_oracle.is_empty() {
                money.short(value)
            } else {
                format!("{} · {of_oracle}", money.short(value))
            };
            let scope = scope.map_or(String::new(), |s| format!(" — {s}"));
            let share = if of_oracle.is_empty() {
                String::new()
            } else {
                format!("\n{of_oracle}")
            };
            Some(Bar {
                tip: format!(
                    "{label}{scope}\nExpected value: {}{share}",
                    money.fmt(value)
                ),
                label,
                value,
                text,
                colour: colour.into(),
                cluster: None,
            })
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let mut figure = hbars(
        "Expected value by policy",
        "",
        &bars,
        Format::MoneyShort,
        165,
    );
    figure.widen_x(0.45);
    figure.height = (bars.len() as u32 * 40 + 58).max(120);
    Some(figure)
}

/// The policy values for everyone (the KPIs) and per segment (its profile's values).
fn policy_value(data: &super::dashboard::DashboardData, money: &Money) -> BySegment {
    let k = &data.kpis;
    let segments = page_segments(data);
    BySegment {
        all: policy_bars(
            [k.value_flat, k.value_predicted, k.value_oracle],
            k.flat_rate,
            None,
            money,
        ),
        by_cluster: data
            .segments
            .iter()
            .filter_map(|s| {
                let (_, label) = segment_style(&segments, s.cluster)?;
                let figure = policy_bars(
                    [s.value_flat, s.value_predicted, s.value_oracle],
                    k.flat_rate,
                    Some(&label),
                    money,
                )?;
                Some((s.cluster.to_string(), figure))
            })
            .collect(),
    }
}

/// Each persona's customers by recommended arm, as stacked shares (light to dark by arm).
fn offer_by_segment(rows: &[SegmentArms], arms: &[String]) -> Option<Figure> {
    if rows.is_empty() {
        return None;
    }
    let n = rows.len();
    let mut figure = Figure::new(
        "Recommended arm by persona",
        Axis::fixed(
            "Share of the persona’s customers",
            0.0,
            1.0,
            vec![0.0, 0.25, 0.5, 0.75, 1.0],
            Format::Pct0,
        ),
        Axis::categories(
            "",
            rows.iter()
                .rev()
                .map(|r| format!("C{} · {}", r.cluster, r.persona))
                .collect(),
        ),
    );
    figure.height = (n as u32 * 40 + 58).max(140);
    figure.left = 190;
    for (i, r) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let total = r.customers.max(1) as f64;
        let mut at = 0.0;
        let (mut x0, mut x1, mut colours, mut tips) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (a, &count) in r.counts.iter().enumerate() {
            let share = count as f64 / total;
            if share <= 0.0 {
                continue;
            }
            x0.push(at);
            x1.push(at + share);
            at += share;
            colours.push(tier_colour(a, arms.len()));
            tips.push(format!(
                "C{} · {}\n{}: {} of {} ({:.1}%)",
                r.cluster,
                r.persona,
                arms.get(a).map_or("?", String::as_str),
                crate::numfmt::grouped(count as u64),
                crate::numfmt::grouped(r.customers as u64),
                share * 100.0
            ));
        }
        let k = x0.len();
        figure.mark(Mark::Rects {
            x0,
            x1,
            y0: vec![y - 0.32; k],
            y1: vec![y + 0.32; k],
            colours,
            tips,
            cluster: Some(r.cluster),
        });
    }
    for (a, arm) in arms.iter().enumerate() {
        let colour = tier_colour(a, arms.len());
        figure.key(arm.clone(), &colour, false);
    }
    Some(figure)
}

/// A bar's stacked parts: (label, count, colour).
type Stack = Vec<(String, usize, String)>;

/// Customers per cashback tier: for everyone stacked by segment (in the segments' colours; by
/// tier colour without segments), and per segment that segment's counts alone, each bar
/// labelled with its count and share.
fn tier_bars(tiers: &[TierRow], segments: &[SegmentSummary]) -> BySegment {
    let mut tiers: Vec<&TierRow> = tiers.iter().collect();
    tiers.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    // One bar per tier of stacked (label, count, colour) parts.
    let figure = |parts: &dyn Fn(usize, &TierRow) -> Stack| -> Option<Figure> {
        if tiers.is_empty() {
            return None;
        }
        let stacks: Vec<Stack> = tiers.iter().enumerate().map(|(i, t)| parts(i, t)).collect();
        let totals: Vec<usize> = stacks.iter().map(|s| s.iter().map(|p| p.1).sum()).collect();
        let all: usize = totals.iter().sum();
        let top = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
        let mut figure = Figure::new(
            "Customers per cashback tier",
            Axis::categories(
                "Cashback tier",
                tiers.iter().map(|t| crate::numfmt::rate(t.rate)).collect(),
            ),
            Axis::nice("Customers", 0.0, top * 1.1, 5, Format::Compact),
        );
        figure.left = 56;
        for (i, stack) in stacks.iter().enumerate() {
            let mut at = 0.0;
            let (mut y0, mut y1, mut colours, mut tips) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (label, n, colour) in stack.iter().filter(|p| p.1 > 0) {
                y0.push(at);
                at += *n as f64;
                y1.push(at);
                colours.push(colour.clone());
                tips.push(format!(
                    "Tier {}\n{label}: {}\nTier total: {}",
                    crate::numfmt::rate(tiers[i].rate),
                    crate::numfmt::grouped(*n as u64),
                    crate::numfmt::grouped(totals[i] as u64)
                ));
            }
            let k = y0.len();
            let x = i as f64;
            figure.mark(Mark::Rects {
                x0: vec![x - 0.34; k],
                x1: vec![x + 0.34; k],
                y0,
                y1,
                colours,
                tips,
                cluster: None,
            });
            if totals[i] > 0 {
                figure.mark(Mark::Text {
                    x,
                    y: totals[i] as f64,
                    text: format!(
                        "{} · {:.0}%",
                        super::charts::fmt_compact(totals[i] as f64),
                        if all > 0 {
                            totals[i] as f64 / all as f64 * 100.0
                        } else {
                            0.0
                        }
                    ),
                    anchor: Anchor::Middle,
                    dx: 0.0,
                    dy: -5.0,
                    value: true,
                    cluster: None,
                });
            }
        }
        Some(figure)
    };
    let n_tiers = tiers.len();
    let all = figure(&|i, t| {
        if !segments.is_empty() && t.by_cluster.len() == segments.len() {
            segments
                .iter()
                .zip(&t.by_cluster)
                .map(|(s, &n)| {
                    let (colour, label) = segment_style(segments, s.cluster)
                        .unwrap_or((UNASSIGNED, format!("C{}", s.cluster)));
                    (label, n, colour.to_string())
                })
                .collect()
        } else {
            vec![(
                "All customers".to_string(),
                t.customers,
                tier_colour(i, n_tiers),
            )]
        }
    });
    let all = all.map(|mut f| {
        for s in segments {
            if let Some((colour, label)) = segment_style(segments, s.cluster) {
                f.key(label, colour, false);
            }
        }
        f
    });
    let by_cluster = segments
        .iter()
        .enumerate()
        .filter_map(|(k, s)| {
            let (colour, label) = segment_style(segments, s.cluster)?;
            let f = figure(&|_, t| {
                vec![(
                    label.clone(),
                    t.by_cluster.get(k).copied().unwrap_or(0),
                    colour.to_string(),
                )]
            })?;
            Some((s.cluster.to_string(), f))
        })
        .collect();
    BySegment { all, by_cluster }
}

/// The page's spend histogram: the sampled customers' total spend on log10 bins of width
/// 1/8 decade (6 to 28 bins) that span every customer whatever the segment, so that segments
/// compare on one axis; stacked by segment for everyone, each segment's own counts when it is
/// selected; a dashed line at the median (the whole population's for everyone, the sample's
/// for a segment).
fn spend_histogram(data: &super::dashboard::DashboardData, money: &Money) -> BySegment {
    let customers: Vec<(f64, usize)> = data
        .customers
        .iter()
        .filter(|c| c.total_spent.is_finite() && c.total_spent > 0.0)
        .map(|c| (c.total_spent.log10(), c.cluster))
        .collect();
    if customers.is_empty() {
        return BySegment::default();
    }
    let segments = page_segments(data);
    let (lo, hi) = customers
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
            (lo.min(c.0), hi.max(c.0))
        });
    let lo = (lo * 4.0).floor() / 4.0;
    let hi = ((hi * 4.0).ceil() / 4.0).max(lo + 0.25);
    let bins = (((hi - lo) / 0.125).round() as usize).clamp(6, 28);
    let width = (hi - lo) / bins as f64;
    let bin_of = |v: f64| (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
    // (cluster or None for "everyone without segments", colour, label) per stacked part.
    let parts: Vec<(Option<usize>, &str, String)> = if segments.is_empty() {
        vec![(None, ACCENT, "Customers".to_string())]
    } else {
        let mut ids: Vec<usize> = segments.iter().map(|s| s.cluster).collect();
        ids.sort_unstable();
        ids.into_iter()
            .filter_map(|c| {
                segment_style(&segments, c).map(|(colour, label)| (Some(c), colour, label))
            })
            .collect()
    };
    let build = |selected: Option<usize>| -> Option<Figure> {
        let shown: Vec<&(f64, usize)> = customers
            .iter()
            .filter(|c| selected.is_none_or(|s| c.1 == s))
            .collect();
        if shown.is_empty() {
            return None;
        }
        let chosen: Vec<&(Option<usize>, &str, String)> = parts
            .iter()
            .filter(|p| selected.is_none() || p.0 == selected)
            .collect();
        let mut counts = vec![vec![0usize; chosen.len()]; bins];
        for (v, cluster) in &shown {
            let k = chosen
                .iter()
                .position(|p| p.0.is_none() || p.0 == Some(*cluster))
                .unwrap_or(0);
            counts[bin_of(*v)][k] += 1;
        }
        let totals: Vec<usize> = counts.iter().map(|r| r.iter().sum()).collect();
        let top = totals.iter().copied().max().unwrap_or(1).max(1) as f64;
        let mut figure = Figure::new(
            "Histogram of total spend",
            Axis {
                label: "Total spent (log scale)".into(),
                lo,
                hi,
                ticks: super::charts::log_ticks(lo, hi).0,
                format: Format::MoneyShort,
                decimals: 0,
                log10: true,
                grid: false,
                names: Vec::new(),
            },
            Axis::nice("Customers (sample)", 0.0, top, 5, Format::Compact),
        );
        figure.left = 52;
        for (b, row) in counts.iter().enumerate() {
            let (x0, x1) = (lo + b as f64 * width, lo + (b + 1) as f64 * width);
            let range = format!(
                "{} – {}",
                money.fmt(10f64.powf(x0)),
                money.fmt(10f64.powf(x1))
            );
            let mut at = 0.0;
            let (mut y0, mut y1, mut colours, mut tips) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (k, &n) in row.iter().enumerate().filter(|(_, n)| **n > 0) {
                y0.push(at);
                at += n as f64;
                y1.push(at);
                colours.push(chosen[k].1.to_string());
                tips.push(format!(
                    "{range}\n{}: {}\nAll shown: {}",
                    chosen[k].2,
                    crate::numfmt::grouped(n as u64),
                    crate::numfmt::grouped(totals[b] as u64)
                ));
            }
            let n = y0.len();
            let gap = width * 0.04;
            figure.mark(Mark::Rects {
                x0: vec![x0 + gap; n],
                x1: vec![x1 - gap; n],
                y0,
                y1,
                colours,
                tips,
                cluster: None,
            });
        }
        let median = match selected {
            None if data.kpis.median_spend.is_finite() && data.kpis.median_spend > 0.0 => {
                Some(data.kpis.median_spend)
            }
            _ => {
                let mut v: Vec<f64> = shown.iter().map(|c| 10f64.powf(c.0)).collect();
                v.sort_by(f64::total_cmp);
                let m = v.len() / 2;
                Some(if v.len() % 2 == 1 {
                    v[m]
                } else {
                    (v[m - 1] + v[m]) / 2.0
                })
            }
        };
        if let Some(m) = median {
            let (x, y_lo, y_hi) = (m.log10(), figure.y.lo, figure.y.hi);
            figure
                .mark(Mark::Rules {
                    x0: vec![x],
                    y0: vec![y_lo],
                    x1: vec![x],
                    y1: vec![y_hi],
                    colour: REFERENCE.into(),
                    width: 1.2,
                    dashed: true,
                })
                .mark(Mark::Text {
                    x,
                    y: y_hi,
                    text: format!("median {}", money.fmt(m)),
                    anchor: Anchor::Start,
                    dx: 5.0,
                    dy: 12.0,
                    value: false,
                    cluster: None,
                });
        }
        Some(figure)
    };
    BySegment {
        all: build(None),
        by_cluster: parts
            .iter()
            .filter_map(|p| Some((p.0?.to_string(), build(p.0)?)))
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// SHAP beeswarm and dependence, tier mix, merchant rates, arms along the budget
// ---------------------------------------------------------------------------------------------

/// One feature's SHAP values for the beeswarm and dependence plots: `values`, `shap` and
/// `cluster` aligned (`cluster` empty: no segments).
pub(crate) struct SwarmFeature<'a> {
    pub feature: &'a str,
    pub values: &'a [f64],
    pub shap: &'a [f64],
    pub cluster: &'a [usize],
}

/// Customers per feature in the page's beeswarm: a row of 500 pixels is full with these, and
/// the page stays small (the dependence plots keep every embedded customer).
const BEESWARM_POINTS: usize = 1000;

/// Salt of the fixed hash order that picks and stacks the drawn points.
const SWARM_SALT: u64 = 0x5EED_C4A2_75F1_0A7B;

/// Features in the order the SHAP plots list them: largest mean |SHAP| first, then by name;
/// features without a finite SHAP value are left out.
fn swarm_order<'f, 'a>(features: &'f [SwarmFeature<'a>]) -> Vec<&'f SwarmFeature<'a>> {
    let mut ranked: Vec<(f64, &SwarmFeature)> = features
        .iter()
        .filter_map(|f| {
            let finite: Vec<f64> = f.shap.iter().copied().filter(|v| v.is_finite()).collect();
            let mean = finite.iter().map(|v| v.abs()).sum::<f64>() / finite.len() as f64;
            (!finite.is_empty()).then_some((mean, f))
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.feature.cmp(b.1.feature))
    });
    ranked.into_iter().map(|(_, f)| f).collect()
}

/// The tooltip lines of a SHAP point: the feature's value and its SHAP value.
fn shap_tip_lines(feature: &str, value: TipOf, shap: TipOf) -> Vec<TipLine> {
    vec![
        TipLine {
            label: feature.to_string(),
            format: Format::Num,
            decimals: 2,
            of: value,
        },
        TipLine {
            label: "SHAP".into(),
            format: Format::Pp,
            decimals: 5,
            of: shap,
        },
    ]
}

/// Points grouped by segment (in the order of `cluster`, no segments: one group).
fn by_cluster_groups(idx: &[usize], cluster: &[usize]) -> Vec<(Option<usize>, Vec<usize>)> {
    let mut groups: BTreeMap<Option<usize>, Vec<usize>> = BTreeMap::new();
    for &i in idx {
        groups.entry(cluster.get(i).copied()).or_default().push(i);
    }
    groups.into_iter().collect()
}

/// A SHAP beeswarm like shap's `summary_plot`: a row per feature (at most `max_features`, the
/// largest mean |SHAP| on top), each customer a dot at its SHAP value, stacked where they
/// crowd, shaded by the feature's value (5th–95th percentile, blue → red). At most
/// `max_points` customers per feature, the same ones in every row (0: all). Dots carry their
/// segment, so the page mutes the others'. `label` names a segment for the tooltips.
pub(crate) fn shap_beeswarm(
    features: &[SwarmFeature],
    max_features: usize,
    max_points: usize,
    label: &dyn Fn(usize) -> String,
) -> Option<Figure> {
    let rows: Vec<&SwarmFeature> = swarm_order(features)
        .into_iter()
        .take(max_features)
        .collect();
    let n = rows.len();
    let (lo, hi) = rows
        .iter()
        .flat_map(|r| r.shap.iter().copied().filter(|v| v.is_finite()))
        .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if n == 0 {
        return None;
    }
    let names: Vec<String> = rows
        .iter()
        .rev()
        .map(|r| super::charts::truncate_label(r.feature, 32))
        .collect();
    let mut figure = Figure::new(
        "SHAP beeswarm",
        Axis::nice(
            "SHAP value (impact on the predicted rate)",
            lo,
            hi,
            6,
            Format::Pp,
        ),
        Axis::categories("", names),
    );
    figure.y.grid = false;
    figure.height = n as u32 * 30 + 60;
    figure.left = 150;
    figure.mark(Mark::Rules {
        x0: vec![0.0],
        y0: vec![figure.y.lo],
        x1: vec![0.0],
        y1: vec![figure.y.hi],
        colour: "#6b7280".into(),
        width: 1.0,
        dashed: false,
    });
    let mut drawn = 0;
    for (r, row) in rows.iter().enumerate() {
        let len = row.shap.len().min(row.values.len());
        let keep: Vec<usize> = super::charts::subsample_indices(len, max_points, SWARM_SALT)
            .into_iter()
            .filter(|&i| row.shap[i].is_finite())
            .collect();
        let scale = super::charts::ColourScale::from_values(&row.values[..len]);
        let shap: Vec<f64> = keep.iter().map(|&i| row.shap[i]).collect();
        let offsets = super::charts::beeswarm_offsets(&shap, 100, SWARM_SALT);
        let offset: BTreeMap<usize, f64> = keep.iter().copied().zip(offsets).collect();
        let centre = (n - 1 - r) as f64;
        drawn = drawn.max(keep.len());
        for (cluster, idx) in by_cluster_groups(&keep, row.cluster) {
            figure.mark(Mark::Dots {
                x: idx.iter().map(|&i| round_sig(row.shap[i])).collect(),
                y: idx
                    .iter()
                    .map(|&i| ((centre + offset[&i] * 0.4) * 100.0).round() / 100.0)
                    .collect(),
                colour: GREY.into(),
                shades: idx
                    .iter()
                    .map(|&i| (scale.scale(row.values[i]) * 100.0).round() / 100.0)
                    .collect(),
                radius: 2.2,
                radii: Vec::new(),
                translucent: false,
                tips: Vec::new(),
                tip_title: cluster.map(label).unwrap_or_default(),
                tip_lines: shap_tip_lines(
                    row.feature,
                    TipOf::Values(idx.iter().map(|&i| round_sig(row.values[i])).collect()),
                    TipOf::X,
                ),
                cluster,
            });
        }
    }
    let available = rows.iter().map(|r| r.shap.len()).max().unwrap_or(0);
    if drawn < available {
        figure.title = format!(
            "SHAP beeswarm ({} of {} customers per feature)",
            crate::numfmt::grouped(drawn as u64),
            crate::numfmt::grouped(available as u64)
        );
    }
    let (lo_rgb, hi_rgb) = (shade_colour(0.0), shade_colour(1.0));
    figure.key("low feature value", &hex(lo_rgb), false);
    figure.key("high feature value", &hex(hi_rgb), false);
    Some(figure)
}

/// `(r, g, b)` → `#rrggbb`.
fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Four significant digits: enough for a dot's place and tooltip, and a small page.
fn round_sig(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    format!("{v:.3e}").parse().unwrap_or(v)
}

/// A SHAP dependence plot per feature, in the beeswarm's order: each customer's feature value
/// against its SHAP value, coloured by segment (the page mutes the others); a log x axis for a
/// positive feature spanning over two decades.
pub(crate) fn shap_dependence(
    features: &[SwarmFeature],
    max_points: usize,
    segments: &[SegmentSummary],
) -> Vec<Figure> {
    swarm_order(features)
        .into_iter()
        .filter_map(|f| {
            let len = f.shap.len().min(f.values.len());
            let keep: Vec<usize> = super::charts::subsample_indices(len, max_points, SWARM_SALT)
                .into_iter()
                .filter(|&i| f.shap[i].is_finite() && f.values[i].is_finite())
                .collect();
            let xs: Vec<f64> = keep.iter().map(|&i| f.values[i]).collect();
            let (x_lo, x_hi) = min_max(&xs)?;
            let (s_lo, s_hi) = min_max(&keep.iter().map(|&i| f.shap[i]).collect::<Vec<_>>())?;
            let log = x_lo > 0.0 && x_hi / x_lo > 100.0;
            let format = if x_hi.abs().max(x_lo.abs()) >= 10_000.0 {
                Format::Compact
            } else {
                Format::Num
            };
            let x = if log {
                Axis::log(&format!("{} (log scale)", f.feature), x_lo, x_hi, format)
            } else {
                Axis::nice(f.feature, x_lo, x_hi, 6, format)
            };
            let mut figure = Figure::new(
                f.feature,
                x,
                Axis::nice("SHAP value", s_lo.min(0.0), s_hi.max(0.0), 5, Format::Pp),
            );
            figure.mark(Mark::Rules {
                x0: vec![figure.x.lo],
                y0: vec![0.0],
                x1: vec![figure.x.hi],
                y1: vec![0.0],
                colour: "#6b7280".into(),
                width: 1.0,
                dashed: false,
            });
            let place = |v: f64| if log { v.log10() } else { v };
            for (cluster, idx) in by_cluster_groups(&keep, f.cluster) {
                let style = cluster.and_then(|c| segment_style(segments, c));
                figure.mark(Mark::Dots {
                    x: idx.iter().map(|&i| round_sig(place(f.values[i]))).collect(),
                    y: idx.iter().map(|&i| round_sig(f.shap[i])).collect(),
                    colour: style.as_ref().map_or(ACCENT, |s| s.0).into(),
                    shades: Vec::new(),
                    radius: 2.6,
                    radii: Vec::new(),
                    translucent: false,
                    tips: Vec::new(),
                    tip_title: style.map(|s| s.1).unwrap_or_default(),
                    tip_lines: shap_tip_lines(f.feature, TipOf::X, TipOf::Y),
                    cluster,
                });
            }
            Some(figure)
        })
        .collect()
}

/// Smallest and largest finite value.
pub(crate) fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Each persona's customers across the cashback tiers as a heat map: a row per segment (the
/// first on top), a column per tier, each cell shaded and labelled by the tier's share of the
/// segment. `by_cluster` of each tier is aligned with `segments`.
pub(crate) fn tier_heatmap(tiers: &[TierRow], segments: &[SegmentSummary]) -> Option<Figure> {
    let mut tiers: Vec<&TierRow> = tiers.iter().collect();
    tiers.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let n = segments.len();
    if tiers.is_empty() || n == 0 || tiers.iter().any(|t| t.by_cluster.len() != n) {
        return None;
    }
    let names = segments
        .iter()
        .rev()
        .map(|s| format!("C{} · {}", s.cluster, s.persona))
        .collect();
    let mut figure = Figure::new(
        "Tier mix by persona",
        Axis::categories(
            "Cashback tier",
            tiers.iter().map(|t| crate::numfmt::rate(t.rate)).collect(),
        ),
        Axis::categories("", names),
    );
    figure.height = n as u32 * 40 + 60;
    figure.left = 235;
    for (si, s) in segments.iter().enumerate() {
        let total: usize = tiers.iter().map(|t| t.by_cluster[si]).sum();
        let y = (n - 1 - si) as f64;
        let shares: Vec<f64> = tiers
            .iter()
            .map(|t| {
                if total > 0 {
                    t.by_cluster[si] as f64 / total as f64
                } else {
                    0.0
                }
            })
            .collect();
        let k = tiers.len();
        figure.mark(Mark::Rects {
            x0: (0..k).map(|i| i as f64 - 0.48).collect(),
            x1: (0..k).map(|i| i as f64 + 0.48).collect(),
            y0: vec![y - 0.46; k],
            y1: vec![y + 0.46; k],
            // Pale to mid blue by the square root of the share, light enough for dark text.
            colours: shares
                .iter()
                .map(|&share| {
                    let t = share.sqrt();
                    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
                    hex((mix(246.0, 96.0), mix(247.0, 145.0), mix(249.0, 240.0)))
                })
                .collect(),
            tips: tiers
                .iter()
                .zip(&shares)
                .map(|(t, share)| {
                    format!(
                        "C{} · {}\nTier {}: {} customers\n{:.1}% of the segment",
                        s.cluster,
                        s.persona,
                        crate::numfmt::rate(t.rate),
                        crate::numfmt::grouped(t.by_cluster[si] as u64),
                        share * 100.0
                    )
                })
                .collect(),
            cluster: Some(s.cluster),
        });
        for (i, &share) in shares.iter().enumerate().filter(|(_, s)| **s >= 0.005) {
            figure.mark(Mark::Text {
                x: i as f64,
                y,
                text: format!("{:.0}%", share * 100.0),
                anchor: Anchor::Middle,
                dx: 0.0,
                dy: 4.0,
                value: true,
                cluster: Some(s.cluster),
            });
        }
    }
    Some(figure)
}

/// Each merchant's commission against its recommended rate, a bubble sized by spend (the
/// largest drawn first), green with margin headroom and red without; the diagonal is where no
/// margin is left.
pub(crate) fn merchant_rates(merchants: &[MerchantRow], money: &Money) -> Option<Figure> {
    let mut ms: Vec<&MerchantRow> = merchants
        .iter()
        .filter(|m| m.commission.is_finite() && m.recommended_rate.is_finite())
        .collect();
    if ms.is_empty() {
        return None;
    }
    ms.sort_by(|a, b| b.spend.total_cmp(&a.spend));
    let max_spend = ms
        .iter()
        .map(|m| if m.spend.is_finite() { m.spend } else { 0.0 })
        .fold(1.0f64, f64::max);
    let max_c = ms.iter().map(|m| m.commission).fold(0.0f64, f64::max);
    let max_r = ms.iter().map(|m| m.recommended_rate).fold(0.0f64, f64::max);
    let mut figure = Figure::new(
        "Commission versus recommended rate per merchant",
        Axis::nice(
            "Commission the platform earns",
            0.0,
            max_c * 1.07,
            6,
            Format::Rate,
        ),
        Axis::nice(
            "Recommended merchant rate",
            0.0,
            max_r * 1.12,
            5,
            Format::Rate,
        ),
    );
    let end = figure.x.hi.min(figure.y.hi);
    figure.mark(Mark::Rules {
        x0: vec![0.0],
        y0: vec![0.0],
        x1: vec![end],
        y1: vec![end],
        colour: GREY.into(),
        width: 1.5,
        dashed: true,
    });
    for (margin, colour) in [(true, GREEN), (false, RED)] {
        let group: Vec<&&MerchantRow> = ms
            .iter()
            .filter(|m| ((m.commission - m.recommended_rate) * m.spend >= 0.0) == margin)
            .collect();
        if group.is_empty() {
            continue;
        }
        figure.mark(Mark::Dots {
            x: group.iter().map(|m| m.commission).collect(),
            y: group.iter().map(|m| m.recommended_rate).collect(),
            colour: colour.into(),
            shades: Vec::new(),
            radius: 3.0,
            radii: group
                .iter()
                .map(|m| 3.0 + 13.0 * (m.spend.max(0.0) / max_spend).sqrt())
                .collect(),
            translucent: true,
            tips: group
                .iter()
                .map(|m| {
                    format!(
                        "{}{}\nCommission: {}\nRecommended rate: {}\nSpend: {}\nHeadroom: {}",
                        m.name,
                        if m.city.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", m.city)
                        },
                        crate::numfmt::rate(m.commission),
                        crate::numfmt::rate(m.recommended_rate),
                        money.fmt(m.spend),
                        money.fmt((m.commission - m.recommended_rate) * m.spend)
                    )
                })
                .collect(),
            tip_title: String::new(),
            tip_lines: Vec::new(),
            cluster: None,
        });
    }
    figure.mark(Mark::Text {
        x: end,
        y: end,
        text: "no margin left".into(),
        anchor: Anchor::End,
        dx: -4.0,
        dy: 14.0,
        value: false,
        cluster: None,
    });
    Some(figure)
}

/// Customers per arm as the budget grows, a line per arm (the tiers' light-to-dark blues,
/// "none" grey) along the value curve's breakpoints; the page marks the slider's budget.
pub(crate) fn budget_arms(view: &BudgetView, money: &Money) -> Option<Figure> {
    if view.cost.is_empty() || view.arms.is_empty() {
        return None;
    }
    let x_max = view
        .cost
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = view
        .counts
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut figure = Figure::new(
        "Customers per arm as the budget grows",
        Axis::nice(
            "Expected cashback spent (budget)",
            0.0,
            x_max,
            6,
            Format::MoneyShort,
        ),
        Axis::nice("Customers", 0.0, top * 1.05, 5, Format::Compact),
    );
    figure.height = 280;
    let paid: Vec<usize> = (0..view.arms.len())
        .filter(|&a| view.arms[a] != "none")
        .collect();
    // Hover places: about 20 along the curve.
    let step = (view.cost.len() / 20).max(1);
    let picks: Vec<usize> = (0..view.cost.len()).step_by(step).collect();
    for (a, arm) in view.arms.iter().enumerate() {
        let colour = match paid.iter().position(|&p| p == a) {
            Some(i) => tier_colour(i, paid.len()),
            None => GREY.to_string(),
        };
        let count = |k: usize| view.counts[k].get(a).copied().unwrap_or(0) as f64;
        figure.mark(Mark::Line {
            x: view.cost.clone(),
            y: (0..view.cost.len()).map(count).collect(),
            colour: colour.clone(),
            width: 2.0,
            dashed: false,
        });
        figure.mark(Mark::Points {
            x: picks.iter().map(|&k| view.cost[k]).collect(),
            y: picks.iter().map(|&k| count(k)).collect(),
            colour: colour.clone(),
            radius: 3.0,
            square: false,
            hollow: false,
            hover: true,
            tips: picks
                .iter()
                .map(|&k| {
                    format!(
                        "{arm}: {} customers\nat a budget of {}",
                        crate::numfmt::grouped(count(k) as u64),
                        money.fmt(view.cost[k])
                    )
                })
                .collect(),
            cluster: None,
        });
        let label = if arm == "none" {
            "no cashback (none)".to_string()
        } else {
            arm.clone()
        };
        figure.key(label, &colour, true);
    }
    Some(figure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::stage_views::FlatPoint;

    fn series(learner: &str, arm: &str, gain: Vec<f64>) -> QiniSeries {
        QiniSeries {
            learner: learner.into(),
            outcome: "spend".into(),
            arm: arm.into(),
            qini: Some(0.05),
            fraction: vec![0.0, 0.5, 1.0],
            gain,
        }
    }

    #[test]
    fn qini_has_a_figure_per_arm_and_a_line_per_learner() {
        let figures = qini(
            &[
                series("t", "2%", vec![0.0, 3.0, 2.0]),
                series("x", "2%", vec![0.0, 1.0, 2.0]),
                series("t", "5%", vec![0.0, -1.0, 4.0]),
            ],
            "0%",
        );
        assert_eq!(figures.len(), 2);
        assert_eq!(figures[0].title, "2% vs 0% — spend");
        let lines = |f: &Figure| {
            f.marks
                .iter()
                .filter(|m| matches!(m, Mark::Line { .. }))
                .count()
        };
        assert_eq!((lines(&figures[0]), lines(&figures[1])), (2, 1));
        // The y range covers every gain and zero with round ends.
        assert!(figures[1].y.lo <= -1.0 && figures[1].y.hi >= 4.0);
        assert_eq!(figures[0].legend[0].label, "t (Qini 0.050)");
        // The random line ends at the first learner's last point.
        let Mark::Rules { x1, y1, .. } = &figures[0].marks[0] else {
            panic!("the random line first")
        };
        assert_eq!((x1[0], y1[0]), (1.0, 2.0));
    }

    #[test]
    fn budget_curve_marks_flat_policies_and_the_chosen_budget() {
        let view = BudgetView {
            cost: vec![0.0, 10.0, 30.0],
            value: vec![0.0, 50.0, 80.0],
            integer_cost: 28.0,
            integer_value: 79.0,
            flat: vec![FlatPoint {
                arm: "2%".into(),
                cost: 30.0,
                value: 60.0,
                targeted_value: 80.0,
                gain: 20.0,
                gain_pct: Some(33.3),
                ..FlatPoint::default()
            }],
            ..BudgetView::default()
        };
        let money = Money::new("GBP");
        let png = budget_curve(&view, &money, true);
        let page = budget_curve(&view, &money, false);
        assert_eq!(png.marks.len(), page.marks.len() + 3);
        let Mark::Points { tips, .. } = &page.marks[1] else {
            panic!("flat points second")
        };
        assert!(tips[0].contains("£80.00 (+£20.00, +33.3%)"), "{}", tips[0]);
        assert!(page.x.hi >= 30.0 && page.y.hi >= 80.0 && page.y.lo <= 0.0);
    }

    #[test]
    fn clv_holdout_pairs_bars_and_skips_the_total() {
        let row = |f: &str, a: f64, e: f64| ClvHoldoutRow {
            calibration_frequency: f.into(),
            customers: 10,
            actual_mean: a,
            expected_mean: e,
        };
        assert!(clv_holdout(&[row("all", 1.0, 1.0)], None).is_none());
        let f = clv_holdout(
            &[row("0", 0.2, 0.3), row("1", 0.9, 0.8), row("all", 1.0, 1.0)],
            Some("39.0 weeks"),
        )
        .unwrap();
        assert_eq!(f.x.names, vec!["0", "1"]);
        assert!(f.title.ends_with("(39.0 weeks)"));
        let heights: Vec<Vec<f64>> = f
            .marks
            .iter()
            .map(|m| match m {
                Mark::Rects { y1, .. } => y1.clone(),
                _ => panic!("bars only"),
            })
            .collect();
        assert_eq!(heights, vec![vec![0.2, 0.9], vec![0.3, 0.8]]);
    }

    /// Pixels of exactly `hex` in the PNG.
    fn ink_of(path: &std::path::Path, hex: &str) -> usize {
        let (r, g, b) = crate::report::figure::rgb(hex);
        crate::report::charts::ink(path, Some(plotters::style::RGBColor(r, g, b)))
    }

    #[test]
    fn pngs_draw_every_mark() {
        let dir = tempfile::tempdir().unwrap();
        let draw = |name: &'static str, figures: &[Figure]| {
            let path = dir.path().join(name);
            crate::report::charts::draw_figures(name, &path, None, figures, 2, (720, 520)).unwrap();
            path
        };
        // Qini: each learner's curve in its colour.
        let path = draw(
            "qini.png",
            &qini(
                &[
                    series("t", "2%", vec![0.0, 3.0, 2.0]),
                    series("x", "2%", vec![0.0, 1.0, 2.0]),
                    series("t", "5%", vec![0.0, -1.0, 4.0]),
                ],
                "0%",
            ),
        );
        for colour in &LEARNER_COLOURS[..2] {
            let drawn = ink_of(&path, colour);
            assert!(drawn > 300, "{drawn} pixels of {colour}");
        }
        // The budget curve, its flat points and the chosen budget.
        let view = BudgetView {
            cost: vec![0.0, 10.0, 30.0, 60.0],
            value: vec![0.0, 50.0, 80.0, 90.0],
            integer_cost: 40.0,
            integer_value: 85.0,
            flat: vec![FlatPoint {
                arm: "2%".into(),
                cost: 40.0,
                value: 60.0,
                ..FlatPoint::default()
            }],
            ..BudgetView::default()
        };
        let path = draw(
            "budget_curve.png",
            &[budget_curve(&view, &Money::new("GBP"), true)],
        );
        let (curve, flat) = (ink_of(&path, ACCENT), ink_of(&path, GREY));
        assert!(
            curve > 2_000 && flat > 100,
            "{curve} accent, {flat} grey pixels"
        );
        // Holdout bars: actual in grey, expected (taller here) in the accent colour.
        let rows: Vec<ClvHoldoutRow> = (0..8)
            .map(|i| ClvHoldoutRow {
                calibration_frequency: if i == 7 { "7+".into() } else { i.to_string() },
                customers: 10,
                actual_mean: i as f64 * 0.9,
                expected_mean: i as f64,
            })
            .collect();
        let path = draw(
            "clv_holdout.png",
            &[clv_holdout(&rows, Some("39.0 weeks")).unwrap()],
        );
        let (actual, expected) = (ink_of(&path, GREY), ink_of(&path, ACCENT));
        assert!(actual > 7 * 300 && expected > actual, "{actual} {expected}");
    }

    fn k_row(k: usize, silhouette: f64, best: bool) -> KResult {
        KResult {
            k,
            inertia: 1e4 / k as f64,
            silhouette,
            davies_bouldin: 1.0 + k as f64 * 0.05,
            calinski_harabasz: 3000.0 - k as f64 * 100.0,
            min_cluster_size: 100 / k,
            silhouette_exact: true,
            best,
        }
    }

    fn k_png(rows: &[KResult]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k_selection.png");
        let title = k_selection_title(rows);
        crate::report::charts::draw_figures(
            "k",
            &path,
            Some(&title),
            &k_selection(rows),
            2,
            (700, 475),
        )
        .unwrap();
        (dir, path)
    }

    #[test]
    fn k_selection_marks_the_chosen_k_on_every_metric() {
        let rows: Vec<KResult> = (2..=10)
            .map(|k| k_row(k, 0.5 - k as f64 * 0.02, k == 2))
            .collect();
        let figures = k_selection(&rows);
        assert_eq!(figures.len(), 4);
        assert_eq!(
            k_selection_title(&rows),
            "Choosing the number of segments — KMeans, k = 2–10"
        );
        // Nine ticks, one per k; the silhouette labels every point with its smallest cluster.
        assert_eq!(figures[0].x.ticks.len(), 9);
        let labels: Vec<&str> = figures[1]
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(labels.len(), 9);
        assert_eq!(labels[0], "min 50");
        let (_dir, path) = k_png(&rows);
        // Four lines of nine steel points, and the chosen k in red in each panel.
        let (steel, red) = (ink_of(&path, STEEL), ink_of(&path, CHOSEN));
        assert!(steel > 4 * 9 * 30, "{steel} steel pixels");
        assert!(red > 4 * 60, "{red} red pixels");
    }

    #[test]
    fn k_selection_edge_cases() {
        // One k is the chosen one; no rows draw nothing.
        let (_dir, path) = k_png(&[k_row(3, 0.4, true)]);
        assert!(ink_of(&path, CHOSEN) > 4 * 60);
        assert!(k_selection(&[]).is_empty());
        // No silhouette and no flagged k: nothing is chosen, the finite metrics still draw.
        let mut rows: Vec<KResult> = (2..=4).map(|k| k_row(k, f64::NAN, false)).collect();
        rows[1].inertia = f64::INFINITY;
        let figures = k_selection(&rows);
        assert!(figures.iter().all(|f| f.legend.is_empty()));
        let chosen = k_selection(&[k_row(3, 0.4, true)]);
        let keys: Vec<usize> = chosen.iter().map(|f| f.legend.len()).collect();
        assert_eq!(keys, vec![0, 1, 0, 0]);
        let Mark::Line { x, .. } = &figures[0].marks[0] else {
            panic!("the line first without a chosen k")
        };
        assert_eq!(x, &vec![2.0, 4.0]);
        let (_dir, path) = k_png(&rows);
        assert_eq!(ink_of(&path, CHOSEN), 0);
        assert!(ink_of(&path, STEEL) > 3 * 3 * 30);
    }

    #[test]
    fn shap_importance_ranks_features_and_draws_longer_bars_for_larger_values() {
        let importance: Vec<(String, f64)> = (0..14)
            .map(|i| (format!("feature_{i}"), 0.001 * i as f64))
            .collect();
        let figure = shap_importance(&importance).unwrap();
        // Largest on top: the top row of the category axis is the largest value.
        assert_eq!(figure.y.names.last().unwrap(), "feature_13");
        assert_eq!(figure.x.format, Format::Pp);
        let bars = bars_of(&figure);
        assert!(
            bars[0].3.starts_with("feature_13\nMean |SHAP|: 1.300 pp"),
            "{}",
            bars[0].3
        );
        assert_eq!((bars[0].2.as_str(), bars[1].2.as_str()), (ACCENT, LIGHT));
        let dir = tempfile::tempdir().unwrap();
        let draw = |name: &str, figure: &Figure| {
            let path = dir.path().join(name);
            crate::report::charts::draw_figures(
                "shap",
                &path,
                None,
                std::slice::from_ref(figure),
                1,
                (1200, 700),
            )
            .unwrap();
            path
        };
        let full = draw("full.png", &figure);
        // The same largest bar, every other bar a tenth as long.
        let smaller: Vec<(String, f64)> = importance
            .iter()
            .map(|(f, v)| (f.clone(), if *v >= 0.013 { *v } else { v / 10.0 }))
            .collect();
        let short = draw("short.png", &shap_importance(&smaller).unwrap());
        let (top, rest) = (ink_of(&full, ACCENT), ink_of(&full, LIGHT));
        assert!(top > 500 && rest > 12 * 300, "{top} {rest}");
        assert!(ink_of(&short, LIGHT) < rest / 2);
        assert!(ink_of(&short, ACCENT) > 500);
        // Nothing finite, nothing to draw; a zero bar draws.
        assert!(shap_importance(&[("nan".into(), f64::NAN)]).is_none());
        let zero = shap_importance(&[("zero".into(), 0.0), ("nan".into(), f64::NAN)]).unwrap();
        assert_eq!(zero.y.names, vec!["zero"]);
        draw("zero.png", &zero);
    }

    #[test]
    fn shap_importance_per_segment_averages_that_segments_sampled_customers() {
        let importance = vec![ShapImportanceRow {
            feature: "a".into(),
            mean_abs_shap: 0.5,
            rank: 1,
        }];
        let points = vec![
            ShapPointsRow {
                feature: "a".into(),
                values: vec![0.0; 3],
                shap: vec![0.1, -0.3, 0.02],
                cluster: vec![0, 0, 2],
            },
            ShapPointsRow {
                feature: "b".into(),
                values: vec![0.0; 3],
                shap: vec![0.0, 0.0, -0.04],
                cluster: vec![0, 0, 2],
            },
        ];
        let by = shap_by_segment(&importance, &points);
        assert_eq!(by.all.as_ref().unwrap().y.names, vec!["a"]);
        assert_eq!(by.by_cluster.keys().collect::<Vec<_>>(), vec!["0", "2"]);
        let bars = bars_of(&by.by_cluster["0"]);
        assert!(
            (bars[0].1 - 0.2).abs() < 1e-12 && bars[1].1 == 0.0,
            "{bars:?}"
        );
        assert!(bars[0].3.ends_with("Sampled customers: 2"), "{}", bars[0].3);
        // In cluster 2, b (0.04) outranks a (0.02).
        assert_eq!(by.by_cluster["2"].y.names, vec!["a", "b"]);
    }

    /// The bars of a ranking, top first: (x0, x1, colour, tip) per bar.
    fn bars_of(figure: &Figure) -> Vec<(f64, f64, String, String)> {
        figure
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Rects {
                    x0,
                    x1,
                    colours,
                    tips,
                    ..
                } => Some((x0[0], x1[0], colours[0].clone(), tips[0].clone())),
                _ => None,
            })
            .collect()
    }

    fn bar_tips(figure: &Figure) -> Vec<String> {
        bars_of(figure).into_iter().map(|b| b.3).collect()
    }

    #[test]
    fn pipeline_and_merchant_rankings() {
        let merchant = |name: &str, commission: f64, spend: f64| MerchantRow {
            name: name.into(),
            commission,
            recommended_rate: 0.02,
            spend,
            ..MerchantRow::default()
        };
        let money = Money::new("USD");
        let figure = merchant_headroom(
            &[
                merchant("small", 0.05, 100.0),
                merchant("big", 0.05, 10_000.0),
                merchant("under", 0.01, 500.0),
            ],
            &money,
        )
        .unwrap();
        // Largest headroom on top; a negative one in red with its value to the left.
        assert_eq!(figure.y.names, vec!["under", "small", "big"]);
        let bars = bars_of(&figure);
        assert_eq!(bars[2].2, RED);
        assert!((bars[2].0 + 5.0).abs() < 1e-9);
        assert!(
            bar_tips(&figure)[0].ends_with("Headroom: $300"),
            "{}",
            bar_tips(&figure)[0]
        );
        assert!(merchant_headroom(&[], &money).is_none());

        let ingest = |step: &str, rows: usize| IngestRow {
            source: "retail".into(),
            step: step.into(),
            rows,
        };
        let funnel = ingest_funnel(&[ingest("read", 1000), ingest("clean", 750)]).unwrap();
        assert!(
            bar_tips(&funnel)[1].ends_with("Dropped: 250 (25.0%)"),
            "{:?}",
            bar_tips(&funnel)
        );

        let stage = |stage: &str, seconds: f64| StageRow {
            stage: stage.into(),
            seconds,
            rows_out: 4_300,
        };
        let times = stage_times(&[stage("ingest", 0.52), stage("train", 12.0)]).unwrap();
        assert_eq!(times.x.format, Format::Seconds);
        // Room to the right of the longest bar for its "12.0 s · 4.3k rows".
        assert!(times.x.hi >= 15.0, "{}", times.x.hi);
        let texts: Vec<&str> = times
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, vec!["0.52 s · 4.3k rows", "12.0 s · 4.3k rows"]);

        let drivers = EffectDrivers {
            arm: "2%".into(),
            fidelity_r2: 0.97,
            features: vec!["recency_days".into()],
            mean_abs_shap: vec![41.0],
        };
        let figure = effect_drivers(&drivers, "spend").unwrap();
        assert!(
            figure.x.label.ends_with("(spend); effect model R² 0.970"),
            "{}",
            figure.x.label
        );
    }

    #[test]
    fn offer_policies_and_model_comparison() {
        let policy = |policy: &str, kind: &str, dr: f64, truth: Option<f64>| PolicyRow {
            policy: policy.into(),
            kind: kind.into(),
            dr: Some(dr),
            ci_low: Some(dr - 2.0),
            ci_high: Some(dr + 2.0),
            true_value: truth,
            ..PolicyRow::default()
        };
        let money = Money::new("USD");
        let rows = [
            policy("everyone:2%", "arm", 29.8, Some(30.1)),
            policy("t", "learner", 30.2, Some(30.0)),
            policy("recommended", "recommended", 29.8, Some(30.1)),
            PolicyRow {
                dr: None,
                ..policy("random", "random", 0.0, None)
            },
        ];
        let figure = offer_policies(&rows, "spend", &money).unwrap();
        // Rows without a DR value are left out; the first on top, named as a person reads it.
        assert_eq!(figure.y.names, vec!["recommended", "t", "everyone 2%"]);
        assert!(figure.x.lo <= 27.8 && figure.x.hi >= 32.2);
        assert_eq!(figure.legend.len(), 2);
        // Per row: the interval, the estimate, the truth as a hollow square.
        assert_eq!(figure.marks.len(), 9);
        let Mark::Points {
            tips,
            hollow,
            square,
            ..
        } = &figure.marks[8]
        else {
            panic!("the truth last")
        };
        assert!(*hollow && *square);
        assert!(
            tips[0].contains("95% interval: $27.80 to $31.80"),
            "{}",
            tips[0]
        );
        assert!(offer_policies(&rows[3..], "spend", &money).is_none());

        let model = |family: &str, rmse: f64, is_final: bool| ModelRow {
            family: family.into(),
            test_rmse: rmse,
            test_r2: 0.9,
            is_final,
            ..ModelRow::default()
        };
        let figure =
            model_comparison(&[model("linear", 0.01, false), model("boosting", 0.003, true)])
                .unwrap();
        assert_eq!(figure.y.names, vec!["linear", "boosting ★"]);
        // Room right of the longest bar for its label.
        assert!(figure.x.hi >= 0.013, "{}", figure.x.hi);
        assert!(model_comparison(&[]).is_none());
    }

    fn twelve_segments() -> (Vec<SegmentPoint>, Vec<SegmentSummary>) {
        let points = (0..1300)
            .map(|i| SegmentPoint {
                total_spent: 10f64.powf(1.0 + (i % 97) as f64 / 30.0),
                avg_item_price: 10f64.powf((i % 89) as f64 / 60.0),
                cluster: i % 13, // cluster 12 has no profile
            })
            .collect();
        let segments = (0..12)
            .map(|c| SegmentSummary {
                cluster: c,
                persona: format!("Persona {c}"),
                size: 100 + c,
                share_revenue: 1.0 / 12.0,
            })
            .collect();
        (points, segments)
    }

    #[test]
    fn price_spend_is_log_log_a_mark_per_segment_and_subsampled() {
        let (mut points, segments) = twelve_segments();
        points.push(SegmentPoint {
            total_spent: 0.0,
            avg_item_price: 1.0,
            cluster: 0,
        });
        let figure = price_spend(&points, &segments, 20_000, |i| format!("#{i}")).unwrap();
        assert!(figure.x.log10 && figure.y.log10);
        // Spend 10..~10^4.2: the axis covers it in decades, ticks print as values.
        assert!(
            figure.y.lo < 1.0 && figure.y.hi > 4.2,
            "{} {}",
            figure.y.lo,
            figure.y.hi
        );
        assert_eq!(figure.y.tick_label(3.0), "1k");
        // The unassigned customers first (no segment), then one mark per segment, largest
        // first; the zero-spend customer is left out.
        let clusters: Vec<Option<usize>> = figure
            .marks
            .iter()
            .map(|m| match m {
                Mark::Points { cluster, .. } => *cluster,
                _ => panic!("points only"),
            })
            .collect();
        assert_eq!(clusters.len(), 13);
        assert_eq!((clusters[0], clusters[1]), (None, Some(11)));
        let drawn: usize = figure
            .marks
            .iter()
            .map(|m| match m {
                Mark::Points { x, .. } => x.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(drawn, 1300);
        assert_eq!(figure.legend.len(), 12);
        assert_eq!(figure.legend[3].cluster, Some(3));
        // Subsampled, and the title says so.
        let few = price_spend(&points, &segments, 200, |_| String::new()).unwrap();
        assert!(
            few.title.ends_with("200 of 1,300 customers drawn"),
            "{}",
            few.title
        );
        assert!(price_spend(&points[1300..], &segments, 10, |_| String::new()).is_none());
    }

    #[test]
    fn segment_shares_and_the_segments_png() {
        let (points, segments) = twelve_segments();
        let shares = segment_shares(&segments).unwrap();
        assert_eq!(shares.y.names.last().unwrap(), "C0 · Persona 0");
        let Mark::Rects {
            x1,
            colours,
            cluster,
            ..
        } = &shares.marks[0]
        else {
            panic!("bars first")
        };
        assert!((x1[0] - 100.0 / 1266.0).abs() < 1e-12 && (x1[1] - 1.0 / 12.0).abs() < 1e-12);
        assert_eq!(
            (colours[1].as_str(), *cluster),
            (CLUSTER_COLOURS[0], Some(0))
        );
        assert!(segment_shares(&[]).is_none());
        // Both drawn: the points and bars in the segment colours.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segments.png");
        let scatter = price_spend(&points, &segments, 20_000, |_| String::new()).unwrap();
        crate::report::charts::draw_figures(
            "segments",
            &path,
            Some("Customer segments — k = 12"),
            &[scatter, shares],
            2,
            (900, 760),
        )
        .unwrap();
        for colour in &CLUSTER_COLOURS[..4] {
            let drawn = ink_of(&path, colour);
            assert!(drawn > 400, "{drawn} pixels of {colour}");
        }
        assert!(ink_of(&path, UNASSIGNED) > 100);
    }

    #[test]
    fn importance_segment_value_and_clv_by_segment() {
        let importance = |feature: &str, impurity: f64, permutation: f64| FeatureImportanceRow {
            feature: feature.into(),
            impurity,
            permutation,
        };
        let figure =
            feature_importance(&[importance("a", 3.0, 0.1), importance("b", 1.0, 0.3)]).unwrap();
        assert_eq!(figure.y.names, vec!["b", "a"]);
        let Mark::Rects { x1, .. } = &figure.marks[0] else {
            panic!("bars first")
        };
        // Each as its share of its own total.
        assert_eq!(x1, &vec![0.75, 0.25]);
        assert!(feature_importance(&[]).is_none());

        let segment = |cluster: usize, model: Option<f64>, flat: f64| SegmentRow {
            cluster,
            persona: format!("P{cluster}"),
            size: 10,
            value_predicted: model,
            value_flat: Some(flat),
            ..SegmentRow::default()
        };
        let money = Money::new("USD");
        let rows = [
            segment(0, Some(120.0), 100.0),
            segment(1, None, 5.0),
            segment(2, Some(90.0), 100.0),
        ];
        let summaries = |rows: &[SegmentRow]| -> Vec<SegmentSummary> {
            rows.iter()
                .map(|s| SegmentSummary {
                    cluster: s.cluster,
                    persona: s.persona.clone(),
                    size: s.size,
                    share_revenue: s.share_revenue,
                })
                .collect()
        };
        let figure = segment_value(&rows, &summaries(&rows), Some(0.02), &money).unwrap();
        // A segment without a model value is left out; each bar is tagged with its segment.
        assert_eq!(figure.y.names, vec!["P2", "P0"]);
        let tagged: Vec<Option<usize>> = figure
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Rects { cluster, .. } => Some(*cluster),
                _ => None,
            })
            .collect();
        assert_eq!(tagged, vec![Some(0), Some(2)]);
        assert!(
            bar_tips(&figure)[0].contains("Flat 2%: $100\n"),
            "{}",
            bar_tips(&figure)[0]
        );
        let lone = [segment(1, None, 5.0)];
        assert!(segment_value(&lone, &summaries(&lone), None, &money).is_none());

        let clv = ClvSegment {
            cluster: 0,
            persona: "P0".into(),
            customers: 10,
            total_clv: 12_500.0,
            mean_clv: 1_250.0,
            mean_p_alive: 0.8,
            slipping: 1,
        };
        let segments = [SegmentSummary {
            cluster: 0,
            persona: "P0".into(),
            size: 10,
            share_revenue: 1.0,
        }];
        let figure = clv_by_segment(&[clv], &segments, &money).unwrap();
        let Mark::Text { text, .. } = &figure.marks[1] else {
            panic!("the value after the bar")
        };
        assert_eq!(text, "$12.5k · $1,250 each");
        assert!(clv_by_segment(&[], &segments, &money).is_none());
    }

    #[test]
    fn tier_colours_policy_values_and_arms_by_segment() {
        // The page's tierColor: 0.15 of the way to dark blue for the first, all the way last.
        assert_eq!(tier_colour(0, 3), "#aac1db");
        assert_eq!(tier_colour(2, 3), "#08306b");
        let money = Money::new("USD");
        let figure = policy_bars(
            [Some(90.0), Some(99.0), Some(100.0)],
            Some(0.02),
            None,
            &money,
        )
        .unwrap();
        assert_eq!(
            figure.y.names,
            vec!["Oracle (best possible)", "Model tiers", "Flat 2%"]
        );
        let texts: Vec<&str> = figure
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(texts[0], "$90 · 90.0% of oracle");
        assert!(policy_bars([None, None, None], None, None, &money).is_none());

        let arms = vec!["0%".to_string(), "2%".to_string(), "5%".to_string()];
        let rows = [SegmentArms {
            cluster: 1,
            persona: "P".into(),
            customers: 4,
            counts: vec![1, 0, 3],
        }];
        let figure = offer_by_segment(&rows, &arms).unwrap();
        let Mark::Rects {
            x0,
            x1,
            cluster,
            colours,
            ..
        } = &figure.marks[0]
        else {
            panic!("stacked bars")
        };
        // The empty arm is skipped; shares stack to 1.
        assert_eq!((x0.clone(), x1.clone()), (vec![0.0, 0.25], vec![0.25, 1.0]));
        assert_eq!((cluster, colours[1].as_str()), (&Some(1), "#08306b"));
        assert_eq!(figure.legend.len(), 3);
        assert!(offer_by_segment(&[], &arms).is_none());
    }

    #[test]
    fn tier_bars_stack_segments_and_give_each_segment_its_own() {
        let tier = |rate: f64, by: Vec<usize>| TierRow {
            rate,
            customers: by.iter().sum(),
            share: 0.0,
            by_cluster: by,
        };
        let segments: Vec<SegmentSummary> = (0..2)
            .map(|c| SegmentSummary {
                cluster: c,
                persona: format!("P{c}"),
                size: 10,
                share_revenue: 0.5,
            })
            .collect();
        let by = tier_bars(&[tier(0.02, vec![3, 1]), tier(0.0, vec![0, 4])], &segments);
        let all = by.all.unwrap();
        // Tiers in rate order; the 0% tier has only segment 1's customers.
        assert_eq!(all.x.names, vec!["0%", "2%"]);
        let Mark::Rects { y1, colours, .. } = &all.marks[0] else {
            panic!("a stack per tier")
        };
        assert_eq!(
            (y1.clone(), colours[0].as_str()),
            (vec![4.0], CLUSTER_COLOURS[1])
        );
        let Mark::Text { text, .. } = &all.marks[3] else {
            panic!("the 2% tier's label")
        };
        assert_eq!(text, "4 · 50%");
        assert_eq!(all.legend.len(), 2);
        // Segment 0 alone: its own counts and scale.
        let one = &by.by_cluster["0"];
        let Mark::Rects { y1, .. } = &one.marks[1] else {
            panic!("the 2% bar")
        };
        assert_eq!(y1, &vec![3.0]);
        assert!(one.y.hi < all.y.hi + 1e-9);
        assert!(tier_bars(&[], &segments).all.is_none());
    }

    #[test]
    fn spend_histogram_bins_span_everyone_and_stack_by_segment() {
        use crate::report::dashboard::{CustomerRow, DashboardData};
        let customer = |spent: f64, cluster: usize| CustomerRow {
            total_spent: spent,
            cluster,
            ..CustomerRow::default()
        };
        let mut data = DashboardData {
            customers: vec![
                customer(100.0, 0),
                customer(120.0, 1),
                customer(10_000.0, 1),
                customer(0.0, 0),
            ],
            segments: (0..2)
                .map(|c| SegmentRow {
                    cluster: c,
                    persona: format!("P{c}"),
                    size: 2,
                    ..SegmentRow::default()
                })
                .collect(),
            ..DashboardData::default()
        };
        data.kpis.median_spend = 120.0;
        let by = spend_histogram(&data, &Money::new("USD"));
        let all = by.all.unwrap();
        // 10^2 .. 10^4 in 16 bins of 1/8 decade; both segments' customers in the first bin.
        assert!(all.x.log10 && all.x.lo == 2.0 && all.x.hi == 4.0);
        let first = all.marks.iter().find_map(|m| match m {
            Mark::Rects { y1, colours, .. } if !y1.is_empty() => {
                Some((y1.clone(), colours.clone()))
            }
            _ => None,
        });
        let (y1, colours) = first.unwrap();
        assert_eq!(y1, vec![1.0, 2.0]);
        assert_eq!(
            colours,
            vec![
                CLUSTER_COLOURS[0].to_string(),
                CLUSTER_COLOURS[1].to_string()
            ]
        );
        // The whole population's median for everyone, the segment's own when selected.
        let median = |f: &Figure| {
            f.marks.iter().find_map(|m| match m {
                Mark::Text { text, .. } => Some(text.clone()),
                _ => None,
            })
        };
        assert_eq!(median(&all).unwrap(), "median $120");
        assert_eq!(median(&by.by_cluster["1"]).unwrap(), "median $5,060");
        assert!(
            spend_histogram(&DashboardData::default(), &Money::new("USD"))
                .all
                .is_none()
        );
    }

    /// A dots mark's x, y, segment and the mark itself.
    type DotsOf<'f> = (&'f Vec<f64>, &'f Vec<f64>, Option<usize>, &'f Mark);

    fn dots(figure: &Figure) -> Vec<DotsOf<'_>> {
        figure
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Dots { x, y, cluster, .. } => Some((x, y, *cluster, m)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn beeswarm_rows_by_importance_shaded_by_value_and_split_by_segment() {
        let values: Vec<f64> = (0..200).map(|i| i as f64).collect();
        let small: Vec<f64> = (0..200).map(|i| (i as f64 - 100.0) * 1e-5).collect();
        let large: Vec<f64> = (0..200).map(|i| (i as f64 - 100.0) * 1e-3).collect();
        let nan = vec![f64::NAN; 200];
        let cluster: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let features = [
            SwarmFeature {
                feature: "small",
                values: &values,
                shap: &small,
                cluster: &cluster,
            },
            SwarmFeature {
                feature: "large",
                values: &values,
                shap: &large,
                cluster: &cluster,
            },
            SwarmFeature {
                feature: "none",
                values: &values,
                shap: &nan,
                cluster: &cluster,
            },
        ];
        let figure = shap_beeswarm(&features, 10, 0, &|c| format!("C{c} · P")).unwrap();
        // The most important feature on top (the last category), the NaN-only one left out.
        assert_eq!(figure.y.names, vec!["small", "large"]);
        assert_eq!(figure.x.format, Format::Pp);
        let marks = dots(&figure);
        // Two rows × two segments.
        assert_eq!(marks.len(), 4);
        let (x, y, cluster, mark) = marks[0];
        assert_eq!(cluster, Some(0));
        assert_eq!(x.len(), 100);
        // Row "large" is centred on 1, its dots within ±0.4 of it.
        assert!(y.iter().all(|&v| (v - 1.0).abs() <= 0.4), "{y:?}");
        let Mark::Dots {
            shades,
            tip_title,
            tip_lines,
            ..
        } = mark
        else {
            unreachable!()
        };
        // Shades follow the feature value: the 5th–95th percentile range, clipped.
        assert_eq!(shades.first(), Some(&0.0));
        assert_eq!(shades.last(), Some(&1.0));
        assert!(shades.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(tip_title, "C0 · P");
        assert!(matches!(tip_lines[1].of, TipOf::X));
        let TipOf::Values(v) = &tip_lines[0].of else {
            panic!("feature values")
        };
        assert_eq!(v[1], 2.0);
        // At most 50 customers per feature: the same ones in each row.
        let thinned = shap_beeswarm(&features, 10, 50, &|c| format!("C{c}")).unwrap();
        let per_row: usize = dots(&thinned).iter().take(2).map(|d| d.0.len()).sum();
        assert_eq!(per_row, 50);
        assert!(thinned.title.contains("50 of 200"), "{}", thinned.title);
        assert!(shap_beeswarm(&features[2..], 10, 0, &|c| format!("C{c}")).is_none());
    }

    #[test]
    fn dependence_per_feature_with_log_axis_for_wide_positive_values() {
        let wide: Vec<f64> = (1..=300).map(|i| (i * i) as f64).collect();
        let narrow: Vec<f64> = (0..300).map(|i| i as f64 / 10.0).collect();
        let shap: Vec<f64> = (0..300).map(|i| (i as f64 - 150.0) * 1e-4).collect();
        let cluster: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let features = [
            SwarmFeature {
                feature: "narrow",
                values: &narrow,
                shap: &shap,
                cluster: &cluster,
            },
            SwarmFeature {
                feature: "wide",
                values: &wide,
                shap: &shap,
                cluster: &cluster,
            },
        ];
        let (_, segments) = twelve_segments();
        let figures = shap_dependence(&features, 0, &segments);
        assert_eq!(figures.len(), 2);
        let wide_fig = figures.iter().find(|f| f.title == "wide").unwrap();
        assert!(wide_fig.x.log10 && wide_fig.x.label.contains("log"));
        assert!(
            !figures
                .iter()
                .find(|f| f.title == "narrow")
                .unwrap()
                .x
                .log10
        );
        let marks = dots(wide_fig);
        assert_eq!(marks.len(), 3);
        // Dots at log10 of the values; the tooltip reads y as the SHAP value.
        assert!((marks[0].0[0] - 0.0).abs() < 1e-12, "{}", marks[0].0[0]);
        let Mark::Dots {
            colour, tip_lines, ..
        } = marks[1].3
        else {
            unreachable!()
        };
        assert_eq!(colour, CLUSTER_COLOURS[1]);
        // The tooltip reads the value from x (the page undoes the log), SHAP from y.
        assert!(matches!(tip_lines[0].of, TipOf::X) && matches!(tip_lines[1].of, TipOf::Y));
    }

    #[test]
    fn tier_heatmap_shares_per_segment_and_merchant_bubbles() {
        let (_, segments) = twelve_segments();
        let segments = &segments[..2];
        let tier = |rate: f64, by_cluster: Vec<usize>| TierRow {
            rate,
            customers: by_cluster.iter().sum(),
            share: 0.0,
            by_cluster,
        };
        let tiers = [tier(0.05, vec![0, 30]), tier(0.01, vec![10, 10])];
        let figure = tier_heatmap(&tiers, segments).unwrap();
        assert_eq!(figure.x.names, vec!["1%", "5%"]);
        // The first segment on top.
        assert_eq!(figure.y.names, vec!["C1 · Persona 1", "C0 · Persona 0"]);
        let labels: Vec<(&str, Option<usize>, f64)> = figure
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Text {
                    text, cluster, y, ..
                } => Some((text.as_str(), *cluster, *y)),
                _ => None,
            })
            .collect();
        // Segment 0: all at 1%; segment 1: 25% / 75%; an empty cell has no label.
        assert_eq!(
            labels,
            vec![
                ("100%", Some(0), 1.0),
                ("25%", Some(1), 0.0),
                ("75%", Some(1), 0.0)
            ]
        );
        let Mark::Rects { colours, .. } = &figure.marks[0] else {
            panic!("cells first")
        };
        assert_eq!(colours[1], "#f6f7f9", "an empty cell is blank");
        assert!(
            tier_heatmap(&tiers[..1], &segments[..1]).is_none(),
            "misaligned"
        );

        let money = Money::new("USD");
        let merchant = |name: &str, commission: f64, rate: f64, spend: f64| MerchantRow {
            name: name.into(),
            commission,
            recommended_rate: rate,
            spend,
            ..MerchantRow::default()
        };
        let figure = merchant_rates(
            &[
                merchant("a", 0.05, 0.02, 100.0),
                merchant("b", 0.02, 0.03, 400.0),
                merchant("c", 0.04, f64::NAN, 9.0),
            ],
            &money,
        )
        .unwrap();
        let marks = dots(&figure);
        assert_eq!(marks.len(), 2, "green with headroom, red without");
        let Mark::Dots {
            radii,
            colour,
            tips,
            translucent,
            ..
        } = marks[1].3
        else {
            unreachable!()
        };
        assert_eq!((colour.as_str(), *translucent), (RED, true));
        // The largest spender gets the largest bubble: 3 + 13.
        assert_eq!(radii, &vec![16.0]);
        assert!(tips[0].starts_with("b\nCommission: 2%"), "{}", tips[0]);
        assert!(merchant_rates(&[], &money).is_none());
    }

    #[test]
    fn budget_arms_a_line_per_arm_along_the_curve() {
        let view = BudgetView {
            arms: vec!["2%".into(), "5%".into(), "none".into()],
            cost: vec![0.0, 10.0, 30.0],
            value: vec![0.0, 5.0, 6.0],
            counts: vec![vec![0, 0, 4], vec![2, 0, 2], vec![1, 3, 0]],
            ..BudgetView::default()
        };
        let figure = budget_arms(&view, &Money::new("USD")).unwrap();
        let lines: Vec<(&Vec<f64>, &str)> = figure
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Line { y, colour, .. } => Some((y, colour.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].0, &vec![0.0, 0.0, 3.0]);
        assert_eq!(lines[2].1, GREY, "no cashback in grey");
        assert_eq!(figure.legend[2].label, "no cashback (none)");
        assert!(budget_arms(&BudgetView::default(), &Money::new("USD")).is_none());
    }
}
