//! The push-down path: `customer_features` aggregated inside PostgreSQL by
//! `sql/customer_features.sql`. The linkage maps (stock code → merchant, customer → social
//! node) are computed here from the distinct keys and sent as temporary tables; the line-level
//! work stays in the database.

use anyhow::{Context, Result};
use polars::prelude::*;
use postgres::Client;

use super::customers::{social_links, EligibleMerchants, FeatureParams};
use crate::store::postgres::{decode_binary_copy, encode_binary_copy_to};
use crate::store::schema::{self, quote_ident, ColumnDef, SqlType, TableDef};

/// The push-down SQL, compiled in.
pub const CUSTOMER_FEATURES_SQL: &str = include_str!("../../sql/customer_features.sql");

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

fn load_temp(
    client: &mut postgres::Transaction<'_>,
    def: &TableDef,
    table: &DataFrame,
) -> Result<()> {
    let columns: Vec<String> = def
        .columns
        .iter()
        .map(|c| format!("{} {}", quote_ident(&c.name), c.sql_type.sql()))
        .collect();
    client.batch_execute(&format!(
        "CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP",
        quote_ident(&def.name),
        columns.join(", ")
    ))?;
    let mut sink = client.copy_in(&format!(
        "COPY {} FROM STDIN (FORMAT binary)",
        quote_ident(&def.name)
    ))?;
    encode_binary_copy_to(def, table, &mut sink)?;
    sink.finish()?;
    // Temporary tables are never auto-analyzed: without statistics the planner guesses 200
    // rows for 100,000 customers and picks slower joins.
    client.batch_execute(&format!("ANALYZE {}", quote_ident(&def.name)))?;
    Ok(())
}

/// Builds `customer_features` inside PostgreSQL from `<schema>.transactions`; a lost
/// connection is a user error naming PostgreSQL.
pub fn customer_features_pushdown(
    client: &mut Client,
    schema_name: &str,
    edges: &DataFrame,
    merchants: &DataFrame,
    params: &FeatureParams,
) -> Result<DataFrame> {
    build(client, schema_name, edges, merchants, params).map_err(|err| {
        crate::store::postgres::connection_failure(
            err,
            "cannot build customer_features with the push-down query",
        )
    })
}

fn build(
    client: &mut Client,
    schema_name: &str,
    edges: &DataFrame,
    merchants: &DataFrame,
    params: &FeatureParams,
) -> Result<DataFrame> {
    let eligible = EligibleMerchants::from_table(merchants, params)?;
    let qualified = format!(
        "{}.{}",
        quote_ident(schema_name),
        quote_ident("transactions")
    );
    let mut tx = client.transaction()?;
    let codes: Vec<String> = tx
        .query(
            &format!("SELECT DISTINCT stock_code FROM {qualified} ORDER BY 1"),
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let customers: Vec<i64> = tx
        .query(
            &format!("SELECT DISTINCT customer_id FROM {qualified} ORDER BY 1"),
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
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
    load_temp(&mut tx, &stock_def, &stock)?;
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
    load_temp(&mut tx, &customer_def, &links)?;
    let sql = CUSTOMER_FEATURES_SQL.replace("fluz.", &format!("{}.", quote_ident(schema_name)));
    let query: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let reader = tx.copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))?;
    let table = decode_binary_copy(schema::table("customer_features")?, reader)
        .context("cannot read customer_features from the push-down query")?;
    tx.commit()?;
    Ok(table)
}
