-- customer_features, computed inside PostgreSQL ("push-down"): only one row per customer
-- leaves the database. fluz runs this when [store] kind = "postgres" and pushdown = true,
-- with the schema name `fluz` replaced by [store] schema, after loading two small temporary
-- link tables computed from the linkage hash (SPEC §4):
--   fluz_link_stock(stock_code TEXT, m_stars, m_reviews, m_commission DOUBLE PRECISION)
--   fluz_link_customer(customer_id BIGINT, social_node BIGINT, social_degree BIGINT,
--                      social_pagerank DOUBLE PRECISION)
-- On a distributed PostgreSQL (Citus), distribute fluz.transactions by customer_id and make
-- the two link tables reference tables: every aggregate below groups by customer_id, so each
-- worker aggregates its own shard and only the per-customer rows meet at the coordinator.
WITH lines AS (
    SELECT t.customer_id, t.invoice_no, t.quantity, t.unit_price, t.invoice_date, t.country,
           t.quantity * t.unit_price AS spend, s.m_stars, s.m_reviews, s.m_commission
    FROM fluz.transactions AS t
    JOIN fluz_link_stock AS s ON s.stock_code = t.stock_code
),
snapshot AS (
    SELECT max(invoice_date) + INTERVAL '1 day' AS at FROM fluz.transactions
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
           sum(spend) AS total_spent,
           avg(unit_price) AS avg_item_price,
           min(invoice_date) AS first_purchase,
           max(invoice_date) AS last_purchase,
           sum(spend * m_stars) AS w_stars,
           sum(spend * m_reviews) AS w_reviews,
           sum(spend * m_commission) AS w_commission
    FROM lines
    GROUP BY customer_id
)
SELECT p.customer_id,
       c.country,
       p.n_lines,
       p.n_invoices,
       p.total_quantity,
       p.total_spent,
       p.avg_item_price,
       p.total_spent / p.avg_item_price AS spend_to_price_ratio,
       p.total_spent / p.n_invoices AS avg_basket_value,
       p.first_purchase,
       p.last_purchase,
       EXTRACT(EPOCH FROM (s.at - p.last_purchase))::DOUBLE PRECISION / 86400.0 AS recency_days,
       EXTRACT(EPOCH FROM (p.last_purchase - p.first_purchase))::DOUBLE PRECISION / 86400.0 AS tenure_days,
       l.social_node,
       l.social_degree,
       l.social_pagerank,
       p.w_stars / p.total_spent AS merchant_avg_stars,
       p.w_reviews / p.total_spent AS merchant_avg_reviews,
       p.w_commission / p.total_spent AS merchant_commission
FROM per_customer AS p
JOIN per_country AS c ON c.customer_id = p.customer_id
JOIN fluz_link_customer AS l ON l.customer_id = p.customer_id
CROSS JOIN snapshot AS s
ORDER BY p.customer_id
