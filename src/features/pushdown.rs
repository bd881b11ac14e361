//! The push-down path: `customer_features` aggregated inside the engine — PostgreSQL by
//! `sql/customer_features.sql`, Spark by `sql/customer_features_spark.sql` (the same query in
//! Spark's dialect). The linkage maps (stock code → merchant, customer → social node) are
//! computed here from the distinct keys and sent as temporary tables; the line-level work
//! stays in the engine.

use anyhow::Result;
use polars::prelude::*;

use super::customers::{social_links, EligibleMerchants, FeatureParams};
use crate::store::schema::{self, ColumnDef, SqlType, TableDef};
use crate::store::{SqlDialect, SqlRunner};

/// The push-down SQL, compiled in.
pub const CUSTOMER_FEATURES_SQL: &str = include_str!("../../sql/customer_features.sql");

/// The same query in Spark SQL, compiled in.
pub const CUSTOMER_FEATURES_SPARK_SQL: &str = include_str!("../../sql/customer_features_spark.sql");

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
/// keys come back, their links are computed here and sent as temporary tables, and
/// `sql/customer_features.sql` (its table names rewritten to the runner's) does the line-level
/// work in the engine.
pub fn customer_features_pushdown(
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
    let (sql, def) = distinct("customer_id", SqlType::BigInt);
    let customers: Vec<i64> = runner
        .query(&sql, &def)?
        .column("customer_id")?
        .i64()?
        .into_no_null_iter()
        .collect();
    if customers.is_empty() {
        return Err(crate::error::user_error(
            "no transactions are left after cleaning: nothing to build customer features from",
        ));
    }
    let mut stars = Vec::with_capacity(codes.len());
    let mut reviews = Vec::with_capacity(codes.len());
    let mut commissions = Vec::with_capacity(codes.len());
    for code in &codes {
        let attrs = eligible.link(params.seed, code);
        stars.push(attrs.stars);
        reviews.push(attrs.review_count);
        commissions.push(attrs.commission);
    }
    let stock_def = temp_table(
        "fluz_link_stock",
        &[
            ("stock_code", SqlType::Text),
            ("m_stars", SqlType::Double),
            ("m_reviews", SqlType::Double),
            ("m_commission", SqlType::Double),
        ],
    );
    let stock = DataFrame::new(
        codes.len(),
        vec![
            Column::new("stock_code".into(), codes),
            Column::new("m_stars".into(), stars),
            Column::new("m_reviews".into(), reviews),
            Column::new("m_commission".into(), commissions),
        ],
    )?;
    runner.load_temp(&stock_def, &stock)?;
    let social = social_links(&customers, edges, params.seed)?;
    let customer_def = temp_table(
        "fluz_link_customer",
        &[
            ("customer_id", SqlType::BigInt),
            ("social_node", SqlType::BigInt),
            ("social_degree", SqlType::BigInt),
            ("social_pagerank", SqlType::Double),
        ],
    );
    let links = DataFrame::new(
        customers.len(),
        vec![
            Column::new("customer_id".into(), customers),
            Column::new("social_node".into(), social.node),
            Column::new("social_degree".into(), social.degree),
            Column::new("social_pagerank".into(), social.pagerank),
        ],
    )?;
    runner.load_temp(&customer_def, &links)?;
    let sql = match runner.dialect() {
        SqlDialect::Postgres => customer_features_sql(&transactions),
        SqlDialect::Spark => customer_features_spark_sql(&transactions),
    };
    runner.query(&sql, schema::table("customer_features")?)
}

/// The push-down query over the transactions table named `transactions`, comments dropped.
pub fn customer_features_sql(transactions: &str) -> String {
    strip(CUSTOMER_FEATURES_SQL, transactions)
}

/// The Spark SQL push-down query over the transactions table named `transactions`, comments
/// dropped.
pub fn customer_features_spark_sql(transactions: &str) -> String {
    strip(CUSTOMER_FEATURES_SPARK_SQL, transactions)
}

fn strip(sql: &str, transactions: &str) -> String {
    sql.replace("fluz.transactions", transactions)
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}
