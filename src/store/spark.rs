//! The Spark store: the Parquet warehouse (every table read and written by fluz as with
//! `kind = "parquet"`, `transactions` as several files so executors split the scan), plus a
//! Spark cluster that runs the push-down SQL over that warehouse through Spark Connect.
//!
//! What runs where: fluz parses and cleans the sources and writes the warehouse; the cluster
//! reads `transactions` from `[store] spark_warehouse` (the same folder as a `file://` URI by
//! default, an object-store URI in production) and aggregates it to one row per customer; the
//! result comes back as Arrow record batches and is converted column by column into the polars
//! table the later stages read. The link tables (stock code → merchant, customer → social node)
//! are computed by fluz and sent as local relations (temporary views for the session).
//!
//! The connection is opened only when a stage asks for the SQL engine (`eda`), so the stages
//! that never need Spark work without a cluster.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use polars::prelude::{Column, DataFrame, DataType as PlDataType, NamedFrom, Series, TimeUnit};
use spark_connect::row::{Row, Value};
use spark_connect::types::{DataType, StructField};
use spark_connect::{SparkError, SparkSession};

use super::parquet::ParquetStore;
use super::schema::{SqlType, TableDef};
use super::{redact_url, SqlDialect, SqlRunner, Store};
use crate::config::StoreConfig;
use crate::error::user_error;

/// The Parquet warehouse with a Spark cluster beside it.
pub(crate) struct SparkStore {
    parquet: ParquetStore,
    url: String,
    warehouse: String,
}

impl SparkStore {
    /// Opens (and locks) the warehouse folder; Spark is reached later, by
    /// [`Store::sql_runner`].
    pub(crate) fn open(settings: &StoreConfig) -> Result<Self> {
        let parquet = ParquetStore::open(&settings.path, settings.lock_timeout_secs)?
            .with_parts("transactions", settings.spark_files);
        let warehouse = if settings.spark_warehouse.is_empty() {
            local_uri(&settings.path)?
        } else {
            settings.spark_warehouse.trim_end_matches('/').to_string()
        };
        Ok(Self {
            parquet,
            url: settings.spark_url.clone(),
            warehouse,
        })
    }
}

/// How long the endpoint check waits for a TCP connection.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The host and port of an `sc://host:port[/;params]` URL (port 15002 when absent).
fn endpoint(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("sc://")
        .ok_or_else(|| "the URL must start with sc://".to_string())?;
    let authority = rest.split(['/', ';']).next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("bad port {port:?} in the URL"))?,
        ),
        None => (authority, 15002),
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// A TCP connection to the URL's endpoint within [`CONNECT_TIMEOUT`].
fn reachable(url: &str) -> Result<(), String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let (host, port) = endpoint(url)?;
    let addresses: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {host}: {err}"))?
        .collect();
    let mut last = format!("no address for {host}");
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(err) => last = format!("{address}: {err}"),
        }
    }
    Err(last)
}

/// `file://` + the folder's absolute path, as the cluster (on this machine or a shared mount)
/// reads it.
fn local_uri(folder: &Path) -> Result<String> {
    let absolute: PathBuf = std::fs::canonicalize(folder)
        .with_context(|| format!("cannot resolve warehouse folder {}", folder.display()))?;
    Ok(format!("file://{}", absolute.display()))
}

impl Store for SparkStore {
    fn kind(&self) -> &'static str {
        "spark"
    }

    fn location(&self) -> String {
        format!(
            "{} (Spark at {} reads {})",
            self.parquet.location(),
            redact_url(&self.url),
            self.warehouse
        )
    }

    fn write_table(&mut self, name: &str, table: &DataFrame) -> Result<()> {
        self.parquet.write_table(name, table)
    }

    fn read_table(&mut self, name: &str) -> Result<DataFrame> {
        self.parquet.read_table(name)
    }

    fn read_columns(&mut self, name: &str, columns: &[&str]) -> Result<DataFrame> {
        self.parquet.read_columns(name, columns)
    }

    fn has_table(&mut self, name: &str) -> Result<bool> {
        self.parquet.has_table(name)
    }

    fn sql_runner(&mut self) -> Result<Option<Box<dyn SqlRunner + '_>>> {
        Ok(Some(Box::new(SparkRunner::connect(
            &self.url,
            &self.warehouse,
        )?)))
    }
}

/// One Spark Connect session: SQL text in, Arrow batches out.
pub(crate) struct SparkRunner {
    session: SparkSession,
    /// The URL with any token masked, for messages.
    shown_url: String,
    warehouse: String,
    views: Vec<String>,
}

impl SparkRunner {
    /// Connects to the Spark Connect server at `url` (its token never reaches a message) and
    /// sets the session's time zone to UTC, so that no time-zone rule of the cluster's machines
    /// can shift a timestamp.
    pub(crate) fn connect(url: &str, warehouse: &str) -> Result<Self> {
        let shown_url = redact_url(url);
        let unreachable = |err: SparkError| {
            user_error(format!(
                "cannot reach Spark Connect at {shown_url}: {} (is the cluster up? see [store] spark_url / FLUZ_SPARK_URL)",
                clean_message(&err, url)
            ))
        };
        // The client retries a refused connection for minutes: check the endpoint first, with a
        // bounded wait, so an unreachable cluster is a prompt user error.
        reachable(url).map_err(|why| {
            user_error(format!(
                "cannot reach Spark Connect at {shown_url}: {why} (is the cluster up? see [store] spark_url / FLUZ_SPARK_URL)"
            ))
        })?;
        let session = SparkSession::builder()
            .remote(url)
            .get_or_create()
            .map_err(unreachable)?;
        session
            .conf()
            .set("spark.sql.session.timeZone", "UTC")
            .map_err(unreachable)?;
        tracing::debug!("spark: connected to {shown_url}, warehouse {warehouse}");
        Ok(Self {
            session,
            shown_url,
            warehouse: warehouse.to_string(),
            views: Vec::new(),
        })
    }

    /// A Spark error as an error of ours: a lost connection or a warehouse the cluster cannot
    /// read is the user's to fix (exit code 2); anything else (an SQL error) is ours.
    fn failed(&self, err: SparkError, what: &str) -> anyhow::Error {
        let message = clean_message(&err, &self.shown_url);
        let class = err.get_error_class().unwrap_or_default();
        let lost = err.grpc_code().is_some_and(|code| code == 14 || code == 4)
            || message.contains("transport error")
            || message.contains("Connection refused");
        let unreadable = class.starts_with("PATH_NOT_FOUND")
            || class.starts_with("UNABLE_TO_INFER_SCHEMA")
            || message.contains("PATH_NOT_FOUND")
            || message.contains("Permission denied")
            || message.contains("AccessDenied");
        if lost {
            user_error(format!(
                "Spark Connect at {} went away during {what}: {message}",
                self.shown_url
            ))
        } else if unreadable {
            user_error(format!(
                "the Spark cluster cannot read the warehouse at {} ({what}): {message} — set [store] spark_warehouse to where the cluster sees [store] path",
                self.warehouse
            ))
        } else {
            anyhow::anyhow!("Spark SQL failed during {what}: {message}")
        }
    }
}

/// The error's message, first line only (Spark appends JVM stack traces), with the URL's
/// token masked should the message echo it.
fn clean_message(err: &SparkError, url: &str) -> String {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or_default().trim().to_string();
    let first = match first.char_indices().nth(600) {
        Some((cut, _)) => format!("{}…", &first[..cut]),
        None => first,
    };
    if url.is_empty() || redact_url(url) == url {
        first
    } else {
        first.replace(url, &redact_url(url))
    }
}

impl SqlRunner for SparkRunner {
    fn dialect(&self) -> SqlDialect {
        SqlDialect::Spark
    }

    fn table_ref(&self, table: &str) -> String {
        parquet_ref(&self.warehouse, table)
    }

    fn load_temp(&mut self, def: &TableDef, table: &DataFrame) -> Result<()> {
        let fields: Vec<StructField> = def
            .columns
            .iter()
            .map(|column| StructField {
                name: column.name.clone(),
                data_type: spark_type(column.sql_type),
                nullable: column.nullable,
                metadata: Default::default(),
            })
            .collect();
        let names: Vec<String> = def.columns.iter().map(|c| c.name.clone()).collect();
        let columns: Vec<Vec<Value>> = def
            .columns
            .iter()
            .map(|column| values(table, &column.name, column.sql_type))
            .collect::<Result<_>>()?;
        let rows: Vec<Row> = (0..table.height())
            .map(|i| {
                Row::new(
                    names.clone(),
                    columns.iter().map(|column| column[i].clone()).collect(),
                )
            })
            .collect();
        let what = format!("sending table {}", def.name);
        let frame = self
            .session
            .create_dataframe(rows, DataType::Struct { fields })
            .map_err(|err| self.failed(err, &what))?;
        frame
            .create_or_replace_temp_view(&def.name)
            .map_err(|err| self.failed(err, &what))?;
        self.views.push(def.name.clone());
        Ok(())
    }

    fn query(&mut self, sql: &str, def: &TableDef) -> Result<DataFrame> {
        let started = std::time::Instant::now();
        let what = format!("the query for {}", def.name);
        let frame = self
            .session
            .sql(sql)
            .map_err(|err| self.failed(err, &what))?;
        let batches = frame
            .collect_record_batches()
            .map_err(|err| self.failed(err, &what))?;
        let table = batches_to_table(&batches, def)?;
        tracing::debug!(
            "spark: {} ({} rows) in {:.3}s",
            def.name,
            table.height(),
            started.elapsed().as_secs_f64()
        );
        Ok(table)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        for view in &self.views {
            if let Ok(frame) = self.session.sql(&format!("DROP VIEW IF EXISTS `{view}`")) {
                let _ = frame.collect_record_batches();
            }
        }
        // Releasing the server-side session is a courtesy: the server also expires idle ones.
        let _ = self.session.stop();
        Ok(())
    }
}

/// How Spark SQL names stored table `table`: the Parquet file or folder under the warehouse
/// URI, backquoted (a backquote in the path doubled).
fn parquet_ref(warehouse: &str, table: &str) -> String {
    let path = format!("{warehouse}/{table}.parquet");
    format!("parquet.`{}`", path.replace('`', "``"))
}

fn spark_type(sql_type: SqlType) -> DataType {
    match sql_type {
        SqlType::BigInt => DataType::Long,
        SqlType::Double => DataType::Double,
        SqlType::Text => DataType::String {
            collation: "UTF8_BINARY".into(),
        },
        SqlType::Boolean => DataType::Boolean,
        SqlType::Timestamp => DataType::TimestampNtz,
    }
}

/// Column `name` of `table` as Spark row values of `sql_type`.
fn values(table: &DataFrame, name: &str, sql_type: SqlType) -> Result<Vec<Value>> {
    let column = table.column(name)?.as_materialized_series();
    Ok(match sql_type {
        SqlType::BigInt => column
            .i64()?
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Long))
            .collect(),
        SqlType::Double => column
            .f64()?
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Double))
            .collect(),
        SqlType::Text => column
            .str()?
            .iter()
            .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_string())))
            .collect(),
        SqlType::Boolean => column
            .bool()?
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Bool))
            .collect(),
        SqlType::Timestamp => column
            .datetime()?
            .physical()
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Timestamp))
            .collect(),
    })
}

/// Arrow record batches from Spark as a polars table of `def`'s columns, converted column by
/// column (the result has the simple types of `sql/schema.sql`).
pub(crate) fn batches_to_table(
    batches: &[arrow::record_batch::RecordBatch],
    def: &TableDef,
) -> Result<DataFrame> {
    let height: usize = batches.iter().map(|batch| batch.num_rows()).sum();
    let mut columns = Vec::with_capacity(def.columns.len());
    for column in &def.columns {
        let arrays = batches
            .iter()
            .map(|batch| {
                batch.column_by_name(&column.name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "Spark's result for {} has no column {}",
                        def.name,
                        column.name
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let series = arrow_column(&column.name, column.sql_type, &arrays)
            .with_context(|| format!("column {} of {} from Spark", column.name, def.name))?;
        columns.push(Column::from(series));
    }
    Ok(DataFrame::new(height, columns)?)
}

fn arrow_column(
    name: &str,
    sql_type: SqlType,
    arrays: &[&arrow::array::ArrayRef],
) -> Result<Series> {
    use arrow::array::{
        Array, BooleanArray, Float64Array, Int32Array, Int64Array, LargeStringArray, StringArray,
        StringViewArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::DataType as A;

    fn cast<T: 'static>(array: &dyn Array) -> Result<&T> {
        array
            .as_any()
            .downcast_ref::<T>()
            .ok_or_else(|| anyhow::anyhow!("unexpected Arrow type {:?}", array.data_type()))
    }
    let name = name.into();
    Ok(match sql_type {
        SqlType::BigInt => {
            let mut out: Vec<Option<i64>> = Vec::new();
            for array in arrays {
                match array.data_type() {
                    A::Int32 => {
                        out.extend(cast::<Int32Array>(array)?.iter().map(|v| v.map(i64::from)))
                    }
                    _ => out.extend(cast::<Int64Array>(array)?.iter()),
                }
            }
            Series::new(name, out)
        }
        SqlType::Double => {
            let mut out: Vec<Option<f64>> = Vec::new();
            for array in arrays {
                out.extend(cast::<Float64Array>(array)?.iter());
            }
            Series::new(name, out)
        }
        SqlType::Text => {
            let mut out: Vec<Option<String>> = Vec::new();
            for array in arrays {
                match array.data_type() {
                    A::LargeUtf8 => out.extend(
                        cast::<LargeStringArray>(array)?
                            .iter()
                            .map(|v| v.map(str::to_string)),
                    ),
                    A::Utf8View => out.extend(
                        cast::<StringViewArray>(array)?
                            .iter()
                            .map(|v| v.map(str::to_string)),
                    ),
                    _ => out.extend(
                        cast::<StringArray>(array)?
                            .iter()
                            .map(|v| v.map(str::to_string)),
                    ),
                }
            }
            Series::new(name, out)
        }
        SqlType::Boolean => {
            let mut out: Vec<Option<bool>> = Vec::new();
            for array in arrays {
                out.extend(cast::<BooleanArray>(array)?.iter());
            }
            Series::new(name, out)
        }
        SqlType::Timestamp => {
            let mut out: Vec<Option<i64>> = Vec::new();
            for array in arrays {
                // NTZ (no zone) or a zoned timestamp of a UTC session: micros since the epoch of
                // the wall-clock time either way.
                out.extend(cast::<TimestampMicrosecondArray>(array)?.iter());
            }
            Series::new(name, out).cast(&PlDataType::Datetime(TimeUnit::Microseconds, None))?
        }
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_endpoint_is_checked_quickly() {
        assert_eq!(
            super::endpoint("sc://127.0.0.1:15002").unwrap(),
            ("127.0.0.1".into(), 15002)
        );
        assert_eq!(
            super::endpoint("sc://spark.example.com/;use_ssl=true").unwrap(),
            ("spark.example.com".into(), 15002)
        );
        assert!(super::endpoint("http://x:1").is_err());
        assert!(super::endpoint("sc://:1").is_err());
        // Port 1 on loopback refuses at once: an error, not minutes of retries.
        let started = std::time::Instant::now();
        assert!(super::reachable("sc://127.0.0.1:1").is_err());
        assert!(started.elapsed() < super::CONNECT_TIMEOUT);
    }

    use super::*;
    use arrow::array::{
        ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    #[test]
    fn arrow_batches_become_the_tables_columns() {
        let def = TableDef {
            name: "t".into(),
            columns: vec![
                super::super::schema::ColumnDef {
                    name: "id".into(),
                    sql_type: SqlType::BigInt,
                    nullable: false,
                },
                super::super::schema::ColumnDef {
                    name: "country".into(),
                    sql_type: SqlType::Text,
                    nullable: true,
                },
                super::super::schema::ColumnDef {
                    name: "spend".into(),
                    sql_type: SqlType::Double,
                    nullable: false,
                },
                super::super::schema::ColumnDef {
                    name: "at".into(),
                    sql_type: SqlType::Timestamp,
                    nullable: false,
                },
            ],
        };
        let batch = |ids: Vec<i64>, countries: Vec<Option<&str>>, spend: Vec<f64>, at: Vec<i64>| {
            RecordBatch::try_from_iter(vec![
                ("spend", Arc::new(Float64Array::from(spend)) as ArrayRef),
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                (
                    "country",
                    Arc::new(StringArray::from(countries)) as ArrayRef,
                ),
                (
                    "at",
                    Arc::new(TimestampMicrosecondArray::from(at)) as ArrayRef,
                ),
            ])
            .unwrap()
        };
        let batches = vec![
            batch(
                vec![1, 2],
                vec![Some("UK"), None],
                vec![1.5, 2.5],
                vec![0, 86_400_000_000],
            ),
            batch(
                vec![3],
                vec![Some("Éire")],
                vec![-0.0],
                vec![1_291_191_960_000_000],
            ),
        ];
        let table = batches_to_table(&batches, &def).unwrap();
        assert_eq!(table.shape(), (3, 4));
        let names: Vec<&str> = table
            .get_column_names()
            .iter()
            .map(|n| n.as_str())
            .collect();
        assert_eq!(names, ["id", "country", "spend", "at"]);
        assert_eq!(
            table
                .column("id")
                .unwrap()
                .i64()
                .unwrap()
                .into_no_null_iter()
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(
            table
                .column("country")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            [Some("UK"), None, Some("Éire")]
        );
        assert_eq!(
            table.column("at").unwrap().dtype(),
            &PlDataType::Datetime(TimeUnit::Microseconds, None)
        );
        assert!(batches_to_table(&[], &def).unwrap().height() == 0);
        let missing = TableDef {
            name: "t".into(),
            columns: vec![super::super::schema::ColumnDef {
                name: "nope".into(),
                sql_type: SqlType::BigInt,
                nullable: false,
            }],
        };
        assert!(
            format!("{:#}", batches_to_table(&batches, &missing).unwrap_err()).contains("nope")
        );
    }

    #[test]
    fn table_refs_quote_the_warehouse_path() {
        assert_eq!(
            parquet_ref("file:///tmp/odd`name", "transactions"),
            "parquet.`file:///tmp/odd``name/transactions.parquet`"
        );
        assert_eq!(
            parquet_ref("s3a://bucket/fluz", "transactions"),
            "parquet.`s3a://bucket/fluz/transactions.parquet`"
        );
    }

    #[test]
    fn messages_never_carry_the_token() {
        let url = "sc://h:15002/;token=s3cret";
        let err = SparkError::connect_msg(format!("failed to connect to {url}\n  at Stack.trace"));
        let message = clean_message(&err, url);
        assert!(!message.contains("s3cret"), "{message}");
        assert!(!message.contains("Stack.trace"), "{message}");
    }
}
