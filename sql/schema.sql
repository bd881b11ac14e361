-- fluz tables in PostgreSQL. The schema name `fluz` is replaced by `[store] schema` at run time
-- (a validated identifier, always quoted). fluz itself creates each table inside the transaction
-- that loads it (DROP + CREATE + COPY + COMMIT), so a failed load leaves the previous table.
-- Run this file with psql to create empty tables by hand.
-- Types: BIGINT = polars Int64, DOUBLE PRECISION = Float64, TEXT = String,
-- BOOLEAN = Boolean, TIMESTAMP = Datetime(microseconds, no time zone).

CREATE SCHEMA IF NOT EXISTS fluz;

CREATE TABLE fluz.transactions (
    invoice_no TEXT NOT NULL,
    stock_code TEXT NOT NULL,
    description TEXT,
    quantity BIGINT NOT NULL,
    invoice_date TIMESTAMP NOT NULL,
    unit_price DOUBLE PRECISION NOT NULL,
    customer_id BIGINT NOT NULL,
    country TEXT NOT NULL
);

CREATE TABLE fluz.social_edges (
    node_a BIGINT NOT NULL,
    node_b BIGINT NOT NULL
);

CREATE TABLE fluz.merchants (
    business_id TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT,
    city TEXT,
    state TEXT,
    postal_code TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    stars DOUBLE PRECISION NOT NULL,
    review_count BIGINT NOT NULL,
    is_open BIGINT,
    categories TEXT
);

CREATE TABLE fluz.ingest_report (
    source TEXT NOT NULL,
    step TEXT NOT NULL,
    rows BIGINT NOT NULL
);

CREATE TABLE fluz.customer_features (
    customer_id BIGINT NOT NULL,
    country TEXT NOT NULL,
    n_lines BIGINT NOT NULL,
    n_invoices BIGINT NOT NULL,
    total_quantity BIGINT NOT NULL,
    total_spent DOUBLE PRECISION NOT NULL,
    avg_item_price DOUBLE PRECISION NOT NULL,
    spend_to_price_ratio DOUBLE PRECISION NOT NULL,
    avg_basket_value DOUBLE PRECISION NOT NULL,
    first_purchase TIMESTAMP NOT NULL,
    last_purchase TIMESTAMP NOT NULL,
    recency_days DOUBLE PRECISION NOT NULL,
    tenure_days DOUBLE PRECISION NOT NULL,
    social_node BIGINT NOT NULL,
    social_degree BIGINT NOT NULL,
    social_pagerank DOUBLE PRECISION NOT NULL,
    merchant_avg_stars DOUBLE PRECISION NOT NULL,
    merchant_avg_reviews DOUBLE PRECISION NOT NULL,
    merchant_commission DOUBLE PRECISION NOT NULL
);

CREATE TABLE fluz.customer_segments (
    customer_id BIGINT NOT NULL,
    cluster BIGINT NOT NULL,
    persona TEXT NOT NULL
);

CREATE TABLE fluz.segment_profiles (
    cluster BIGINT NOT NULL,
    persona TEXT NOT NULL,
    size BIGINT NOT NULL,
    share_customers DOUBLE PRECISION NOT NULL,
    share_revenue DOUBLE PRECISION NOT NULL,
    mean_total_spent DOUBLE PRECISION NOT NULL,
    median_total_spent DOUBLE PRECISION NOT NULL,
    mean_avg_item_price DOUBLE PRECISION NOT NULL,
    mean_spend_to_price_ratio DOUBLE PRECISION NOT NULL,
    mean_n_invoices DOUBLE PRECISION NOT NULL,
    mean_n_lines DOUBLE PRECISION NOT NULL,
    mean_avg_basket_value DOUBLE PRECISION NOT NULL,
    mean_recency_days DOUBLE PRECISION NOT NULL,
    mean_tenure_days DOUBLE PRECISION NOT NULL,
    mean_social_degree DOUBLE PRECISION NOT NULL
);

CREATE TABLE fluz.k_selection (
    k BIGINT NOT NULL,
    inertia DOUBLE PRECISION NOT NULL,
    silhouette DOUBLE PRECISION NOT NULL,
    davies_bouldin DOUBLE PRECISION NOT NULL,
    calinski_harabasz DOUBLE PRECISION NOT NULL,
    min_cluster_size BIGINT NOT NULL,
    silhouette_exact BOOLEAN NOT NULL,
    best BOOLEAN NOT NULL
);

CREATE TABLE fluz.model_grid (
    family TEXT NOT NULL,
    params TEXT NOT NULL,
    cv_rmse DOUBLE PRECISION NOT NULL,
    cv_rmse_std DOUBLE PRECISION NOT NULL,
    selected BOOLEAN NOT NULL
);

CREATE TABLE fluz.model_comparison (
    family TEXT NOT NULL,
    params TEXT NOT NULL,
    cv_rmse DOUBLE PRECISION NOT NULL,
    test_rmse DOUBLE PRECISION NOT NULL,
    test_mae DOUBLE PRECISION NOT NULL,
    test_r2 DOUBLE PRECISION NOT NULL,
    final BOOLEAN NOT NULL
);

CREATE TABLE fluz.cashback_predictions (
    customer_id BIGINT NOT NULL,
    split TEXT NOT NULL,
    margin DOUBLE PRECISION NOT NULL,
    beta DOUBLE PRECISION NOT NULL,
    optimal_rate DOUBLE PRECISION NOT NULL,
    predicted_rate DOUBLE PRECISION NOT NULL,
    tier DOUBLE PRECISION NOT NULL,
    value_at_tier DOUBLE PRECISION NOT NULL,
    value_at_optimal DOUBLE PRECISION NOT NULL,
    value_at_flat DOUBLE PRECISION NOT NULL,
    recommended_rate DOUBLE PRECISION NOT NULL,
    recommended_by TEXT NOT NULL
);

CREATE TABLE fluz.cashback_feature_importance (
    feature TEXT NOT NULL,
    impurity_importance DOUBLE PRECISION NOT NULL,
    permutation_importance DOUBLE PRECISION NOT NULL,
    rank BIGINT NOT NULL
);

CREATE TABLE fluz.cashback_shap_importance (
    feature TEXT NOT NULL,
    mean_abs_shap DOUBLE PRECISION NOT NULL,
    rank BIGINT NOT NULL
);

CREATE TABLE fluz.cashback_shap_values (
    customer_id BIGINT NOT NULL,
    feature TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    shap DOUBLE PRECISION NOT NULL
);

CREATE TABLE fluz.cashback_explanations (
    customer_id BIGINT NOT NULL,
    predicted_rate DOUBLE PRECISION NOT NULL,
    base_rate DOUBLE PRECISION NOT NULL,
    driver_1 TEXT NOT NULL,
    driver_2 TEXT NOT NULL,
    driver_3 TEXT NOT NULL,
    explanation TEXT NOT NULL
);

CREATE TABLE fluz.merchant_cashback (
    business_id TEXT NOT NULL,
    name TEXT NOT NULL,
    city TEXT,
    stars DOUBLE PRECISION NOT NULL,
    commission DOUBLE PRECISION NOT NULL,
    customers BIGINT NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    recommended_rate DOUBLE PRECISION NOT NULL,
    expected_margin DOUBLE PRECISION NOT NULL
);

-- Customer lifetime value (fluz clv). Times are in [clv] time_unit; frequency = repeat
-- purchase days, recency = t_x, T = age, both from the first purchase. monetary_value,
-- expected_value and clv are null for an RFM input without values; the holdout_* columns are
-- null without a calibration end.
CREATE TABLE fluz.customer_value (
    customer_id BIGINT NOT NULL,
    frequency BIGINT NOT NULL,
    recency DOUBLE PRECISION NOT NULL,
    T DOUBLE PRECISION NOT NULL,
    monetary_value DOUBLE PRECISION,
    p_alive DOUBLE PRECISION NOT NULL,
    expected_purchases DOUBLE PRECISION NOT NULL,
    expected_value DOUBLE PRECISION,
    margin DOUBLE PRECISION NOT NULL,
    clv DOUBLE PRECISION,
    holdout_frequency BIGINT,
    holdout_monetary_value DOUBLE PRECISION,
    holdout_expected DOUBLE PRECISION
);

-- One row per fitted parameter: model bgnbd (r, alpha, a, b) or gamma_gamma (p, q, v).
CREATE TABLE fluz.clv_model (
    model TEXT NOT NULL,
    parameter TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    std_error DOUBLE PRECISION,
    log_likelihood DOUBLE PRECISION NOT NULL,
    n_customers BIGINT NOT NULL
);

-- Expected vs actual holdout purchases by calibration frequency "0".."6", "7+", and "all"
-- (empty without a calibration end).
CREATE TABLE fluz.clv_holdout (
    calibration_frequency TEXT NOT NULL,
    customers BIGINT NOT NULL,
    actual_mean DOUBLE PRECISION NOT NULL,
    expected_mean DOUBLE PRECISION NOT NULL,
    actual_total DOUBLE PRECISION NOT NULL,
    expected_total DOUBLE PRECISION NOT NULL,
    mae DOUBLE PRECISION NOT NULL
);

-- fluz allocate (issue 17). The implicit zero arm is named "none" (rate 0).
CREATE TABLE fluz.budget_allocation (
    customer_id BIGINT NOT NULL,
    arm TEXT NOT NULL,
    rate DOUBLE PRECISION,
    cost DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL
);

-- Breakpoints of the value-vs-budget curve (thinned to [budget] max_curve_points); lambda is
-- the return of the next unit of budget. Customers per arm at each point: budget_curve_arms.
CREATE TABLE fluz.budget_curve (
    point BIGINT NOT NULL,
    budget DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    cost DOUBLE PRECISION NOT NULL,
    lambda DOUBLE PRECISION NOT NULL
);

CREATE TABLE fluz.budget_curve_arms (
    point BIGINT NOT NULL,
    arm TEXT NOT NULL,
    rate DOUBLE PRECISION,
    customers BIGINT NOT NULL
);

-- Every customer on one arm, and the targeted allocation's value at the same cost.
CREATE TABLE fluz.budget_flat_policies (
    arm TEXT NOT NULL,
    rate DOUBLE PRECISION,
    cost DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    targeted_value DOUBLE PRECISION NOT NULL,
    targeted_lp_value DOUBLE PRECISION NOT NULL,
    gain DOUBLE PRECISION NOT NULL,
    gain_pct DOUBLE PRECISION
);

CREATE TABLE fluz.budget_summary (
    source TEXT NOT NULL,
    customers BIGINT NOT NULL,
    arms BIGINT NOT NULL,
    budget DOUBLE PRECISION NOT NULL,
    budget_basis TEXT NOT NULL,
    spend_cap DOUBLE PRECISION NOT NULL,
    budget_capped BOOLEAN NOT NULL,
    base_value DOUBLE PRECISION NOT NULL,
    lp_value DOUBLE PRECISION NOT NULL,
    lp_cost DOUBLE PRECISION NOT NULL,
    integer_value DOUBLE PRECISION NOT NULL,
    integer_cost DOUBLE PRECISION NOT NULL,
    gap DOUBLE PRECISION NOT NULL,
    lambda DOUBLE PRECISION NOT NULL,
    fractional_customer BIGINT,
    segments BIGINT NOT NULL,
    flat_arm TEXT,
    flat_cost DOUBLE PRECISION,
    flat_value DOUBLE PRECISION,
    targeted_value DOUBLE PRECISION,
    gain DOUBLE PRECISION,
    gain_pct DOUBLE PRECISION,
    sentence TEXT NOT NULL,
    -- With values from an offer test: the allocation on the test's held-out customers, the
    -- model's estimate beside the doubly-robust one (totals over those customers, 95% intervals).
    heldout_customers BIGINT,
    heldout_model_value DOUBLE PRECISION,
    heldout_dr_value DOUBLE PRECISION,
    heldout_dr_ci_low DOUBLE PRECISION,
    heldout_dr_ci_high DOUBLE PRECISION,
    heldout_model_gain DOUBLE PRECISION,
    heldout_dr_gain DOUBLE PRECISION,
    heldout_gain_ci_low DOUBLE PRECISION,
    heldout_gain_ci_high DOUBLE PRECISION,
    heldout_sentence TEXT
);

CREATE TABLE fluz.run_manifest (
    stage TEXT NOT NULL,
    started_at TEXT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    rows_out BIGINT NOT NULL,
    details TEXT NOT NULL
);

-- Offer tests (fluz simulate-offers, fluz uplift). `offers` holds one row per customer and
-- outcome of a randomized test; `offer_features` the features the learners use; `offers_truth`
-- the hidden truth of a simulated test (empty for an external log; only evaluation reads it).
CREATE TABLE fluz.offers (
    customer_id BIGINT NOT NULL,
    arm TEXT NOT NULL,
    rate DOUBLE PRECISION NOT NULL,
    contact_cost DOUBLE PRECISION NOT NULL,
    control BOOLEAN NOT NULL,
    margin DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL
);

CREATE TABLE fluz.offer_features (
    customer_id BIGINT NOT NULL,
    feature TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL
);

CREATE TABLE fluz.offers_truth (
    customer_id BIGINT NOT NULL,
    arm TEXT NOT NULL,
    rate DOUBLE PRECISION NOT NULL,
    beta DOUBLE PRECISION NOT NULL,
    margin DOUBLE PRECISION NOT NULL,
    expected_spend DOUBLE PRECISION NOT NULL,
    expected_profit DOUBLE PRECISION NOT NULL,
    best BOOLEAN NOT NULL
);

CREATE TABLE fluz.uplift_predictions (
    customer_id BIGINT NOT NULL,
    split TEXT NOT NULL,
    learner TEXT NOT NULL,
    outcome TEXT NOT NULL,
    arm TEXT NOT NULL,
    expected_outcome DOUBLE PRECISION NOT NULL,
    effect DOUBLE PRECISION NOT NULL,
    cost DOUBLE PRECISION,
    incremental_profit DOUBLE PRECISION,
    recommended BOOLEAN NOT NULL
);

CREATE TABLE fluz.uplift_metrics (
    learner TEXT NOT NULL,
    outcome TEXT NOT NULL,
    arm TEXT NOT NULL,
    qini DOUBLE PRECISION,
    auuc DOUBLE PRECISION,
    policy_value_ipw DOUBLE PRECISION,
    policy_value_dr DOUBLE PRECISION,
    ci_low DOUBLE PRECISION,
    ci_high DOUBLE PRECISION,
    gain_vs_best_arm DOUBLE PRECISION,
    gain_ci_low DOUBLE PRECISION,
    gain_ci_high DOUBLE PRECISION,
    true_value DOUBLE PRECISION,
    regret_pct DOUBLE PRECISION,
    detail TEXT
);

-- The offer test's recommendation explained: per customer, the arm explained (the recommended
-- one, or the best other arm for a customer given the control), the learner's effect, the
-- effect model's value and its baseline, the top drivers (explain).
CREATE TABLE fluz.uplift_explanations (
    customer_id BIGINT NOT NULL,
    arm TEXT NOT NULL,
    recommended BOOLEAN NOT NULL,
    effect DOUBLE PRECISION NOT NULL,
    explained_effect DOUBLE PRECISION NOT NULL,
    base_effect DOUBLE PRECISION NOT NULL,
    driver_1 TEXT NOT NULL,
    driver_2 TEXT NOT NULL,
    driver_3 TEXT NOT NULL,
    explanation TEXT NOT NULL
);

CREATE TABLE fluz.uplift_shap_importance (
    arm TEXT NOT NULL,
    feature TEXT NOT NULL,
    mean_abs_shap DOUBLE PRECISION NOT NULL,
    rank BIGINT NOT NULL,
    fidelity_r2 DOUBLE PRECISION NOT NULL
);

CREATE TABLE fluz.uplift_curve (
    learner TEXT NOT NULL,
    outcome TEXT NOT NULL,
    arm TEXT NOT NULL,
    fraction DOUBLE PRECISION NOT NULL,
    gain DOUBLE PRECISION NOT NULL
);
