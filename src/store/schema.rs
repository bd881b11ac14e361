//! The table definitions of `sql/schema.sql`, parsed once. Both stores check every table they
//! write against them, so the Parquet and PostgreSQL stores cannot drift apart; the PostgreSQL
//! store also creates its tables from them.

use std::sync::OnceLock;

use anyhow::{bail, Result};
use polars::prelude::{DataFrame, DataType, TimeUnit};

/// The DDL file, compiled in.
pub(crate) const SCHEMA_SQL: &str = include_str!("../../sql/schema.sql");

/// A column type in both stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    BigInt,
    Double,
    Text,
    Boolean,
    Timestamp,
}

impl SqlType {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "BIGINT" => Some(Self::BigInt),
            "DOUBLE PRECISION" => Some(Self::Double),
            "TEXT" => Some(Self::Text),
            "BOOLEAN" => Some(Self::Boolean),
            "TIMESTAMP" => Some(Self::Timestamp),
            _ => None,
        }
    }

    /// The SQL spelling.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::BigInt => "BIGINT",
            Self::Double => "DOUBLE PRECISION",
            Self::Text => "TEXT",
            Self::Boolean => "BOOLEAN",
            Self::Timestamp => "TIMESTAMP",
        }
    }

    /// The polars type a column of this SQL type has.
    pub(crate) fn dtype(self) -> DataType {
        match self {
            Self::BigInt => DataType::Int64,
            Self::Double => DataType::Float64,
            Self::Text => DataType::String,
            Self::Boolean => DataType::Boolean,
            Self::Timestamp => DataType::Datetime(TimeUnit::Microseconds, None),
        }
    }
}

/// One column of a table definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub sql_type: SqlType,
    pub nullable: bool,
}

/// One table definition.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
}

/// All tables of `sql/schema.sql`, in file order.
pub(crate) fn tables() -> &'static [TableDef] {
    static TABLES: OnceLock<Vec<TableDef>> = OnceLock::new();
    TABLES.get_or_init(|| parse(SCHEMA_SQL).expect("sql/schema.sql is valid"))
}

/// The definition of `name`.
pub(crate) fn table(name: &str) -> Result<&'static TableDef> {
    match tables().iter().find(|t| t.name == name) {
        Some(def) => Ok(def),
        None => bail!("table {name} is not defined in sql/schema.sql"),
    }
}

/// The definition of table `name` cut down to `columns`, in that order; an unknown column is an
/// error naming it.
pub(crate) fn projection(name: &str, columns: &[&str]) -> Result<TableDef> {
    let def = table(name)?;
    let columns = columns
        .iter()
        .map(
            |column| match def.columns.iter().find(|c| c.name == *column) {
                Some(found) => Ok(found.clone()),
                None => bail!("table {name} has no column {column}"),
            },
        )
        .collect::<Result<_>>()?;
    Ok(TableDef {
        name: def.name.clone(),
        columns,
    })
}

fn parse(sql: &str) -> Result<Vec<TableDef>> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut tables = Vec::new();
    for statement in without_comments.split(';') {
        let statement = statement.trim();
        let Some(rest) = statement.strip_prefix("CREATE TABLE fluz.") else {
            continue;
        };
        let Some(open) = rest.find('(') else {
            bail!("no column list in {statement}")
        };
        let name = rest[..open].trim().to_string();
        let body = rest[open + 1..].trim_end().trim_end_matches(')');
        let mut columns = Vec::new();
        for line in body.split(',') {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (column, tail) = line.split_once(' ').unwrap_or((line, ""));
            let nullable = !tail.contains("NOT NULL");
            let type_text = tail.replace("NOT NULL", "");
            let Some(sql_type) = SqlType::parse(type_text.trim()) else {
                bail!("unknown type {:?} for {name}.{column}", type_text.trim());
            };
            columns.push(ColumnDef {
                name: column.to_string(),
                sql_type,
                nullable,
            });
        }
        tables.push(TableDef { name, columns });
    }
    Ok(tables)
}

/// Checks that `table` has exactly the columns and types of `def`, in order; nulls only where
/// allowed. A mismatch is a bug in fluz, reported with the table and column.
pub(crate) fn check(def: &TableDef, table: &DataFrame) -> Result<()> {
    let names: Vec<&str> = table
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    let expected: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    if names != expected {
        bail!(
            "table {} has columns {:?}, sql/schema.sql says {:?}",
            def.name,
            names,
            expected
        );
    }
    for (column, col_def) in table.columns().iter().zip(&def.columns) {
        let want = col_def.sql_type.dtype();
        if column.dtype() != &want {
            bail!(
                "table {} column {} has type {}, sql/schema.sql says {} ({})",
                def.name,
                col_def.name,
                column.dtype(),
                col_def.sql_type.sql(),
                want
            );
        }
        if !col_def.nullable && column.null_count() > 0 {
            bail!(
                "table {} column {} has {} nulls but is NOT NULL",
                def.name,
                col_def.name,
                column.null_count()
            );
        }
    }
    Ok(())
}

/// `CREATE TABLE` for `def` in `schema` (identifiers quoted).
pub(crate) fn create_table_sql(def: &TableDef, schema: &str) -> String {
    let columns: Vec<String> = def
        .columns
        .iter()
        .map(|c| {
            format!(
                "{} {}{}",
                quote_ident(&c.name),
                c.sql_type.sql(),
                if c.nullable { "" } else { " NOT NULL" }
            )
        })
        .collect();
    format!(
        "CREATE TABLE {}.{} ({})",
        quote_ident(schema),
        quote_ident(&def.name),
        columns.join(", ")
    )
}

/// Quotes an SQL identifier (doubling embedded quotes).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_sql_parses_every_table_of_the_spec() {
        let names: Vec<&str> = tables().iter().map(|t| t.name.as_str()).collect();
        for expected in crate::commands::export::TABLES {
            assert!(
                names.contains(&expected),
                "{expected} missing from sql/schema.sql"
            );
        }
        let tx = table("transactions").unwrap();
        assert_eq!(tx.columns[2].name, "description");
        assert!(tx.columns[2].nullable);
        assert_eq!(tx.columns[4].sql_type, SqlType::Timestamp);
    }

    #[test]
    fn create_sql_quotes_identifiers() {
        let def = table("ingest_report").unwrap();
        let sql = create_table_sql(def, "my\"schema");
        assert!(
            sql.starts_with("CREATE TABLE \"my\"\"schema\".\"ingest_report\""),
            "{sql}"
        );
    }
}
