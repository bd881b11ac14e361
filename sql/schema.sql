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
    value_at_flat DOUBLE PRECISION NOT NULL
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

CREATE TABLE fluz.uplift_curve (
    learner TEXT NOT NULL,
    outcome TEXT NOT NULL,
    arm TEXT NOT NULL,
    fraction DOUBLE PRECISION NOT NULL,
    gain DOUBLE PRECISION NOT NULL
);
