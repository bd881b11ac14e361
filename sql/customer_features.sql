-- customer_features, aggregated inside PostgreSQL ("push-down"): only one row per customer
-- leaves the database. fluz runs this when [store] kind = "postgres" and pushdown = true,
-- with the schema name `fluz` replaced by [store] schema, after loading a small temporary
-- link table computed from the linkage hash (SPEC §4):
--   fluz_link_stock(stock_code TEXT, m_stars_e6, m_reviews, m_commission_e6 BIGINT)
-- Every sum is a sum of integers, so it is exact in any order and every engine (polars,
-- PostgreSQL, Spark) gives the same table to the last bit: a line's money is rounded to
-- millionths (half to even: round(double precision)), stars and commission arrive in
-- millionths, and the sums come back as text (NUMERIC, exact). fluz turns them into the
-- feature columns (totals, means, ratios, recency, the social link) with one set of
-- floating-point operations: src/features/exact.rs.
-- On a distributed PostgreSQL (Citus), distribute fluz.transactions by customer_id and make
-- the link table a reference table: every aggregate below groups by customer_id, so each
-- worker aggregates its own shard and only the per-customer rows meet at the coordinator.
WITH lines AS (
    SELECT t.customer_id, t.invoice_no, t.quantity, t.invoice_date, t.country,
           round(t.quantity * t.unit_price * 1000000)::BIGINT AS spend_e6,
           round(t.unit_price * 1000000)::BIGINT AS price_e6,
           s.m_stars_e6, s.m_reviews, s.m_commission_e6
    FROM fluz.transactions AS t
    JOIN fluz_link_stock AS s ON s.stock_code = t.stock_code
),
per_country AS (
    SELECT DISTINCT ON (customer_id) customer_id, country
    FROM (SELECT customer_id, country, count(*) AS n FROM lines GROUP BY customer_id, country) AS c
    ORDER BY customer_id, n DESC, country COLLATE "C"
),
per_customer AS (
    SELECT customer_id,
           count(*) AS n_lines,
           count(DISTINCT invoice_no) AS n_invoices,
           sum(quantity)::BIGINT AS total_quantity,
           min(invoice_date) AS first_purchase,
           max(invoice_date) AS last_purchase,
           sum(spend_e6)::TEXT AS spend_e6,
           sum(price_e6)::TEXT AS price_e6,
           sum(spend_e6::NUMERIC * m_stars_e6)::TEXT AS w_stars_e12,
           sum(spend_e6::NUMERIC * m_reviews)::TEXT AS w_reviews_e6,
           sum(spend_e6::NUMERIC * m_commission_e6)::TEXT AS w_commission_e12
    FROM lines
    GROUP BY customer_id
)
SELECT p.customer_id, c.country, p.n_lines, p.n_invoices, p.total_quantity,
       p.first_purchase, p.last_purchase,
       p.spend_e6, p.price_e6, p.w_stars_e12, p.w_reviews_e6, p.w_commission_e12
FROM per_customer AS p
JOIN per_country AS c ON c.customer_id = p.customer_id
ORDER BY p.customer_id
