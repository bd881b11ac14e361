//! The push-down path: the per-customer aggregation inside the engine — PostgreSQL by
//! `sql/customer_features.sql`, Spark by `sql/customer_features_spark.sql` (the same query in
//! Spark's dialect). The stock code → merchant link is computed here from the distinct codes
//! and sent as a temporary table; the line-level work stays in the engine, which returns one
//! row per customer with exact integer sums, and `exact::finish` makes the feature columns
//! exactly as for polars.

use anyhow::Result;
use polars::prelude::*;

use super::customers::{social_links, EligibleMerchants, FeatureParams};
use super::exact::{finish, millionths, parse_sum, CustomerSums};
use crate::frame::{i64_column, str_column};
use crate::store::schema::{ColumnDef, SqlType, TableDef};
use crate::store::{SqlDialect, SqlRunner};

/// The push-down SQL, compiled in.
pub(crate) const CUSTOMER_FEATURES_SQL: &str = include_str!("../../sql/customer_features.sql");

/// The same query in Spark SQL, compiled in.
pub(crate) const CUSTOMER_FEATURES_SPARK_SQL: &str =
    include_str!("../../sql/customer_features_spark.sql");

fn temp_table(name: &str, columns: &[(&str, SqlType)]) -> TableDef {
    TableDef {
        name: name.to_string(),
        columns: columns
            .iter()
            .map(|(column, sql_type)| ColumnDef {
                name: column.to_string(),
                sql_type: *sql_type,
                nullable: false,
            })
            .collect(),
    }
}

/// Builds `customer_features` next to the stored `transactions` with `runner`: the distinct
/// stock codes come back, their links are computed here and sent as a temporary table,
/// `sql/customer_features.sql` (its table names rewritten to the runner's) does the line-level
/// work in the engine, and the exact sums it returns are finished here.
pub(crate) fn customer_features_pushdown(
    runner: &mut dyn SqlRunner,
    edges: &DataFrame,
    merchants: &DataFrame,
    params: &FeatureParams,
) -> Result<DataFrame> {
    let eligible = EligibleMerchants::from_table(merchants, params)?;
    let transactions = runner.table_ref("transactions");
    let distinct = |column: &str, sql_type: SqlType| {
        (
            format!("SELECT DISTINCT {column} FROM {transactions} ORDER BY 1"),
            temp_table(&format!("distinct_{column}"), &[(column, sql_type)]),
        )
    };
    let (sql, def) = distinct("stock_code", SqlType::Text);
    let codes: Vec<String> = runner
        .query(&sql, &def)?
        .column("stock_code")?
        .str()?
        .iter()
        .map(|code| code.unwrap_or_default().to_string())
        .collect();
    // The merchant attributes as integers (stars and commission in millionths): every sum in
    // the engine is then a sum of integers, exact in any order (see `exact`).
    let mut stars = Vec::with_capacity(codes.len());
    let mut reviews = Vec::with_capacity(codes.len());
    let mut commissions = Vec::with_capacity(codes.len());
    for code in &codes {
        let attrs = eligible.link(params.seed, code);
        stars.push(millionths(attrs.stars));
        reviews.push(attrs.review_count as i64);
        commissions.push(millionths(attrs.commission));
    }
    let stock_def = temp_table(
        "fluz_link_stock",
        &[
            ("stock_code", SqlType::Text),
            ("m_stars_e6", SqlType::BigInt),
            ("m_reviews", SqlType::BigInt),
            ("m_commission_e6", SqlType::BigInt),
        ],
    );
    let stock = DataFrame::new(
        codes.len(),
        vec![
            Column::new("stock_code".into(), codes),
            Column::new("m_stars_e6".into(), stars),
            Column::new("m_reviews".into(), reviews),
            Column::new("m_commission_e6".into(), commissions),
        ],
    )?;
    runner.load_temp(&stock_def, &stock)?;
    let sql = match runner.dialect() {
        SqlDialect::Postgres => customer_features_sql(&transactions),
        SqlDialect::Spark => customer_features_spark_sql(&transactions),
    };
    let sums_def = temp_table(
        "customer_sums",
        &[
            ("customer_id", SqlType::BigInt),
            ("country", SqlType::Text),
            ("n_lines", SqlType::BigInt),
            ("n_invoices", SqlType::BigInt),
            ("total_quantity", SqlType::BigInt),
            ("first_purchase", SqlType::Timestamp),
            ("last_purchase", SqlType::Timestamp),
            ("spend_e6", SqlType::Text),
            ("price_e6", SqlType::Text),
            ("w_stars_e12", SqlType::Text),
            ("w_reviews_e6", SqlType::Text),
            ("w_commission_e12", SqlType::Text),
        ],
    );
    let table = runner.query(&sql, &sums_def)?;
    if table.height() == 0 {
        return Err(crate::error::user_error(
            "no transactions are left after cleaning: nothing to build customer features from",
        ));
    }
    let sums = customer_sums(&table)?;
    let social = social_links(&sums.customer_id, edges, params.seed)?;
    finish(&sums, social)
}

/// The engine's per-customer rows as [`CustomerSums`] (the exact sums arrive as text).
fn customer_sums(table: &DataFrame) -> Result<CustomerSums> {
    let ids = i64_column(table, "customer_id")?;
    let micros = |name: &str| -> Result<Vec<i64>> {
        Ok(table
            .column(name)?
            .datetime()?
            .physical()
            .no_null_iter()
            .collect())
    };
    let exact = |name: &str| -> Result<Vec<i128>> {
        str_column(table, name)?
            .iter()
            .zip(&ids)
            .map(|(text, &id)| parse_sum(text, name, id))
            .collect()
    };
    Ok(CustomerSums {
        country: str_column(table, "country")?,
        n_lines: i64_column(table, "n_lines")?,
        n_invoices: i64_column(table, "n_invoices")?,
        total_quantity: i64_column(table, "total_quantity")?,
        first_ts: micros("first_purchase")?,
        last_ts: micros("last_purchase")?,
        spend: exact("spend_e6")?,
        price: exact("price_e6")?,
        w_stars: exact("w_stars_e12")?,
        w_reviews: exact("w_reviews_e6")?,
        w_commission: exact("w_commission_e12")?,
        customer_id: ids,
    })
}

/// The push-down query over the transactions table named `transactions`, comments dropped.
pub(crate) fn customer_features_sql(transactions: &str) -> String {
    strip(CUSTOMER_FEATURES_SQL, transactions)
}

/// The Spark SQL push-down query over the transactions table named `transactions`, comments
/// dropped.
pub(crate) fn customer_features_spark_sql(transactions: &str) -> String {
    strip(CUSTOMER_FEATURES_SPARK_SQL, transactions)
}

fn strip(sql: &str, transactions: &str) -> String {
    sql.replace("fluz.transactions", transactions)
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}
