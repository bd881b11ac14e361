-- customer_features, aggregated by Spark SQL ("push-down" to a cluster): the same query as
-- sql/customer_features.sql, CTE for CTE, with only the dialect changed. fluz runs this when
-- [store] kind = "spark" and pushdown = true, with `fluz.transactions` replaced by the
-- warehouse's table (parquet.`<spark_warehouse>/transactions.parquet`), after sending the
-- link table computed from the linkage hash as a temporary view (Spark's hash functions are
-- not fluz's FNV-1a, so the link travels as data):
--   fluz_link_stock(stock_code STRING, m_stars_e6, m_reviews, m_commission_e6 BIGINT)
-- Every sum is a sum of integers (money in millionths, rounded half to even by bround; the
-- weighted sums in DECIMAL(38, 0)), exact in any order of partitions, and comes back as text:
-- fluz finishes the feature columns itself (src/features/exact.rs), so Spark, PostgreSQL and
-- polars give the same table to the last bit.
-- Where the dialects differ:
--   * DISTINCT ON (customer_id) ... ORDER BY  →  row_number() over the same order, keep 1;
--   * COLLATE "C" (byte order)                →  nothing: Spark's default UTF8_BINARY is byte order;
--   * round(double) (half to even)            →  bround(x, 0);
--   * ::NUMERIC, ::BIGINT, ::TEXT             →  CAST(… AS DECIMAL(20, 0) / BIGINT / STRING).
-- Every aggregate groups by customer_id, so each executor aggregates its own split of the
-- files and only partial per-customer rows are shuffled; the link table is small and is
-- broadcast to the executors.
WITH lines AS (
    SELECT t.customer_id, t.invoice_no, t.quantity, t.invoice_date, t.country,
           CAST(bround(t.quantity * t.unit_price * 1000000, 0) AS BIGINT) AS spend_e6,
           CAST(bround(t.unit_price * 1000000, 0) AS BIGINT) AS price_e6,
           s.m_stars_e6, s.m_reviews, s.m_commission_e6
    FROM fluz.transactions AS t
    JOIN fluz_link_stock AS s ON s.stock_code = t.stock_code
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
           min(invoice_date) AS first_purchase,
           max(invoice_date) AS last_purchase,
           CAST(sum(CAST(spend_e6 AS DECIMAL(20, 0))) AS STRING) AS spend_e6,
           CAST(sum(CAST(price_e6 AS DECIMAL(20, 0))) AS STRING) AS price_e6,
           CAST(sum(CAST(spend_e6 AS DECIMAL(20, 0)) * CAST(m_stars_e6 AS DECIMAL(17, 0))) AS STRING) AS w_stars_e12,
           CAST(sum(CAST(spend_e6 AS DECIMAL(20, 0)) * CAST(m_reviews AS DECIMAL(17, 0))) AS STRING) AS w_reviews_e6,
           CAST(sum(CAST(spend_e6 AS DECIMAL(20, 0)) * CAST(m_commission_e6 AS DECIMAL(17, 0))) AS STRING) AS w_commission_e12
    FROM lines
    GROUP BY customer_id
)
SELECT p.customer_id, c.country, p.n_lines, p.n_invoices, p.total_quantity,
       p.first_purchase, p.last_purchase,
       p.spend_e6, p.price_e6, p.w_stars_e12, p.w_reviews_e6, p.w_commission_e12
FROM per_customer AS p
JOIN per_country AS c ON c.customer_id = p.customer_id
ORDER BY p.customer_id
