-- customer_features, computed by Spark SQL ("push-down" to a cluster): the same query as
-- sql/customer_features.sql, CTE for CTE, with only the dialect changed. fluz runs this when
-- [store] kind = "spark" and pushdown = true, with `fluz.transactions` replaced by the
-- warehouse's table (parquet.`<spark_warehouse>/transactions.parquet`), after sending the two
-- link tables computed from the linkage hash as temporary views (Spark's hash functions are not
-- fluz's FNV-1a, so the link travels as data):
--   fluz_link_stock(stock_code STRING, m_stars, m_reviews, m_commission DOUBLE)
--   fluz_link_customer(customer_id BIGINT, social_node BIGINT, social_degree BIGINT,
--                      social_pagerank DOUBLE)
-- Where the dialects differ:
--   * DISTINCT ON (customer_id) ... ORDER BY  →  row_number() over the same order, keep 1;
--   * COLLATE "C" (byte order)                →  nothing: Spark's default UTF8_BINARY is byte order;
--   * EXTRACT(EPOCH FROM a - b) / 86400       →  timestampdiff(MICROSECOND, b, a) / 86400e6
--     (the timestamps are TIMESTAMP_NTZ, wall-clock like PostgreSQL's TIMESTAMP: no time zone
--     or daylight-saving shift can enter);
--   * DOUBLE PRECISION, ::BIGINT, INTERVAL '1 day'  →  DOUBLE, CAST(… AS BIGINT), INTERVAL 1 DAY.
-- Every aggregate groups by customer_id, so each executor aggregates its own split of the
-- files and only partial per-customer rows are shuffled; the link tables are small and are
-- broadcast to the executors.
WITH lines AS (
    SELECT t.customer_id, t.invoice_no, t.quantity, t.unit_price, t.invoice_date, t.country,
           t.quantity * t.unit_price AS spend, s.m_stars, s.m_reviews, s.m_commission
    FROM fluz.transactions AS t
    JOIN fluz_link_stock AS s ON s.stock_code = t.stock_code
),
snapshot AS (
    SELECT max(invoice_date) + INTERVAL 1 DAY AS at FROM fluz.transactions
),
per_country AS (
    SELECT customer_id, country
    FROM (SELECT customer_id, country,
                 row_number() OVER (PARTITION BY customer_id ORDER BY n DESC, country) AS pick
          FROM (SELECT customer_id, country, count(*) AS n FROM lines GROUP BY customer_id, country) AS c
         ) AS ranked
    WHERE pick = 1
),
per_customer AS (
    SELECT customer_id,
           count(*) AS n_lines,
           count(DISTINCT invoice_no) AS n_invoices,
           CAST(sum(quantity) AS BIGINT) AS total_quantity,
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
       CAST(timestampdiff(MICROSECOND, p.last_purchase, s.at) AS DOUBLE) / 86400e6 AS recency_days,
       CAST(timestampdiff(MICROSECOND, p.first_purchase, p.last_purchase) AS DOUBLE) / 86400e6 AS tenure_days,
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
