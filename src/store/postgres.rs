//! The PostgreSQL store: tables in a configurable schema, loaded with binary COPY.
//!
//! Replacing a table is one transaction (DROP, CREATE from `sql/schema.sql`, COPY, COMMIT): a
//! failure at any point rolls back and the previous table stays. Creating the table in the
//! loading transaction also lets PostgreSQL skip WAL for the COPY when `wal_level = minimal`.
//! No SQL text is ever built from data values: identifiers are validated and quoted, values
//! travel in the COPY stream. The URL's password never appears in messages.

use std::io::{BufReader, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use postgres::{Client, NoTls};

use super::schema::{self, quote_ident, SqlType, TableDef};
use super::{is_identifier, producing_stage, redact_url, SqlRunner, Store};
use crate::error::{connection_lost, user_error};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;
const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// A connected PostgreSQL store holding the run lock (an advisory lock on the schema).
pub struct PostgresStore {
    client: Client,
    schema: String,
    location: String,
}

impl PostgresStore {
    /// Reads the columns of `def` (a table's definition, or a projection of it).
    fn read(&mut self, def: &TableDef) -> Result<DataFrame> {
        let name = def.name.as_str();
        if !self.has_table(name)? {
            return Err(user_error(format!(
                "table {name} is not in PostgreSQL schema {} yet: run `fluz {}` first",
                self.schema,
                producing_stage(name)
            )));
        }
        let qualified = self.qualified(name);
        let columns: Vec<String> = def.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let doing = format!("cannot read table {qualified}");
        let reader = self
            .client
            .copy_out(&format!(
                "COPY (SELECT {} FROM {qualified}) TO STDOUT (FORMAT binary)",
                columns.join(", ")
            ))
            .map_err(|err| db_error(err, doing.clone()))?;
        decode_binary_copy(def, BufReader::with_capacity(1 << 20, reader))
            .map_err(|err| connection_failure(err, &doing))
    }

    /// Connects, creates the schema if needed and takes the schema's advisory lock.
    pub fn open(url: &str, schema_name: &str, lock_timeout_secs: u64) -> Result<Self> {
        if !is_identifier(schema_name) {
            return Err(user_error(format!(
                "config key [store] schema: must be a plain identifier, got {schema_name:?}"
            )));
        }
        let location = format!("{} (schema {schema_name})", redact_url(url));
        let mut client = Client::connect(url, NoTls).map_err(|err| {
            user_error(format!(
                "cannot connect to PostgreSQL at {}: {}",
                redact_url(url),
                describe(&err)
            ))
        })?;
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                quote_ident(schema_name)
            ))
            .map_err(|err| {
                if connection_lost(&err) {
                    db_error(err, format!("cannot create schema {schema_name}"))
                } else {
                    user_error(format!(
                        "cannot create schema {schema_name}: {}",
                        describe(&err)
                    ))
                }
            })?;
        let key = lock_key(schema_name);
        let deadline = Instant::now() + Duration::from_secs(lock_timeout_secs);
        loop {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(|err| db_error(err, "cannot take the schema's advisory lock".into()))?;
            if row.get::<_, bool>(0) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(user_error(format!(
                    "another fluz run is using the PostgreSQL schema {schema_name}; wait for it to finish or raise [store] lock_timeout_secs"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            client,
            schema: schema_name.to_string(),
            location,
        })
    }

    fn qualified(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(table))
    }
}

/// The error text without the connection details.
fn describe(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// Wraps a database failure as a user error when the connection is gone, otherwise keeps it
/// internal.
fn db_error(err: postgres::Error, doing: String) -> anyhow::Error {
    if connection_lost(&err) {
        user_error(format!(
            "{doing}: the PostgreSQL connection failed: {}",
            describe(&err)
        ))
    } else {
        anyhow::anyhow!("{doing}: {}", describe(&err))
    }
}

/// For errors that reached us through other layers (a COPY stream's reader or writer, the
/// push-down query): a user error naming PostgreSQL when anything in the chain is a lost
/// connection or an I/O failure on it; otherwise the error as it was, with `doing` as context.
pub(crate) fn connection_failure(err: anyhow::Error, doing: &str) -> anyhow::Error {
    let lost = err.chain().any(|cause| {
        cause
            .downcast_ref::<postgres::Error>()
            .is_some_and(connection_lost)
            || cause.is::<std::io::Error>()
    });
    let already_explained = err
        .chain()
        .any(|cause| cause.is::<crate::error::UserError>());
    if lost && !already_explained {
        user_error(format!(
            "{doing}: the PostgreSQL connection failed: {err:#}"
        ))
    } else {
        err.context(doing.to_string())
    }
}

fn lock_key(schema_name: &str) -> i64 {
    crate::hash::fnv1a64(format!("fluz-lock:{schema_name}").as_bytes()) as i64
}

/// The push-down runner: one transaction, whose temporary tables drop at commit; results come
/// back by binary COPY. A lost connection is a user error naming PostgreSQL.
struct PgRunner<'a> {
    tx: postgres::Transaction<'a>,
    schema_name: String,
}

impl SqlRunner for PgRunner<'_> {
    fn table_ref(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema_name), quote_ident(table))
    }

    fn load_temp(&mut self, def: &TableDef, table: &DataFrame) -> Result<()> {
        let doing = format!("cannot load the push-down table {}", def.name);
        (|| -> Result<()> {
            let columns: Vec<String> = def
                .columns
                .iter()
                .map(|c| format!("{} {}", quote_ident(&c.name), c.sql_type.sql()))
                .collect();
            self.tx.batch_execute(&format!(
                "CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP",
                quote_ident(&def.name),
                columns.join(", ")
            ))?;
            let mut sink = self.tx.copy_in(&format!(
                "COPY {} FROM STDIN (FORMAT binary)",
                quote_ident(&def.name)
            ))?;
            encode_binary_copy_to(def, table, &mut sink)?;
            sink.finish()?;
            // Temporary tables are never auto-analyzed: without statistics the planner guesses
            // 200 rows for 100,000 customers and picks slower joins.
            self.tx
                .batch_execute(&format!("ANALYZE {}", quote_ident(&def.name)))?;
            Ok(())
        })()
        .map_err(|err| connection_failure(err, &doing))
    }

    fn query(&mut self, sql: &str, def: &TableDef) -> Result<DataFrame> {
        let doing = format!("cannot run the push-down query for {}", def.name);
        (|| -> Result<DataFrame> {
            let reader = self
                .tx
                .copy_out(&format!("COPY ({sql}) TO STDOUT (FORMAT binary)"))?;
            decode_binary_copy(def, reader)
        })()
        .map_err(|err| connection_failure(err, &doing))
    }

    fn finish(self: Box<Self>) -> Result<()> {
        self.tx
            .commit()
            .map_err(|err| connection_failure(err.into(), "cannot finish the push-down"))
    }
}

impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn write_table(&mut self, name: &str, table: &DataFrame) -> Result<()> {
        let def = schema::table(name)?;
        schema::check(def, table)?;
        let started = std::time::Instant::now();
        let qualified = self.qualified(name);
        let create = schema::create_table_sql(def, &self.schema);
        let columns: Vec<String> = def.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let doing = format!("cannot replace table {qualified}");
        let mut tx = self
            .client
            .transaction()
            .map_err(|err| db_error(err, doing.clone()))?;
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {qualified}; {create}"))
            .map_err(|err| db_error(err, doing.clone()))?;
        let mut sink = tx
            .copy_in(&format!(
                "COPY {qualified} ({}) FROM STDIN (FORMAT binary)",
                columns.join(", ")
            ))
            .map_err(|err| db_error(err, doing.clone()))?;
        let bytes = encode_binary_copy_to(def, table, &mut sink)
            .map_err(|err| connection_failure(err, &doing))?;
        sink.finish().map_err(|err| db_error(err, doing.clone()))?;
        tx.commit().map_err(|err| db_error(err, doing))?;
        let seconds = started.elapsed().as_secs_f64();
        tracing::debug!(
            "postgres: replaced {qualified} with {} rows in {seconds:.3}s ({:.0} rows/s, {} bytes of binary COPY)",
            table.height(),
            table.height() as f64 / seconds.max(1e-9),
            bytes
        );
        Ok(())
    }

    fn read_table(&mut self, name: &str) -> Result<DataFrame> {
        let def = schema::table(name)?;
        self.read(def)
    }

    fn read_columns(&mut self, name: &str, columns: &[&str]) -> Result<DataFrame> {
        self.read(&schema::projection(name, columns)?)
    }

    fn has_table(&mut self, name: &str) -> Result<bool> {
        let row = self
            .client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
                &[&self.schema, &name],
            )
            .map_err(|err| db_error(err, format!("cannot look up table {name}")))?;
        Ok(row.get::<_, i64>(0) > 0)
    }

    fn sql_runner(&mut self) -> Result<Option<Box<dyn SqlRunner + '_>>> {
        let schema_name = self.schema.clone();
        let tx = self
            .client
            .transaction()
            .map_err(|err| db_error(err, "cannot start the push-down".into()))?;
        Ok(Some(Box::new(PgRunner { tx, schema_name })))
    }
}

impl PostgresStore {
    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

/// Bytes of encoded rows gathered before each write to the sink: PostgreSQL takes COPY data in
/// messages of at most 1 GB, and streaming keeps a 10M-row table from being held twice.
const COPY_CHUNK_BYTES: usize = 4 << 20;

/// Encodes a table as a binary COPY stream into `sink`, in chunks; returns the bytes written.
pub(crate) fn encode_binary_copy_to(
    def: &TableDef,
    table: &DataFrame,
    sink: &mut dyn Write,
) -> Result<usize> {
    enum Col<'a> {
        I64(&'a Int64Chunked),
        F64(&'a Float64Chunked),
        Str(&'a StringChunked),
        Bool(&'a BooleanChunked),
        Ts(&'a Int64Chunked),
    }
    let mut table = table.clone();
    table.rechunk_mut();
    let mut physical = Vec::with_capacity(def.columns.len());
    for col_def in &def.columns {
        let column = table.column(&col_def.name)?;
        physical.push((col_def.sql_type, column.as_materialized_series().clone()));
    }
    let mut ts_storage = Vec::new();
    for (sql_type, series) in &physical {
        if *sql_type == SqlType::Timestamp {
            ts_storage.push(series.datetime()?.physical().clone());
        }
    }
    let mut ts_iter = ts_storage.iter();
    let mut cols = Vec::with_capacity(physical.len());
    for (sql_type, series) in &physical {
        cols.push(match sql_type {
            SqlType::BigInt => Col::I64(series.i64()?),
            SqlType::Double => Col::F64(series.f64()?),
            SqlType::Text => Col::Str(series.str()?),
            SqlType::Boolean => Col::Bool(series.bool()?),
            SqlType::Timestamp => Col::Ts(ts_iter.next().context("timestamp column")?),
        });
    }
    let height = table.height();
    let mut out = Vec::with_capacity(COPY_CHUNK_BYTES + (1 << 16));
    let mut written = 0usize;
    out.extend_from_slice(COPY_SIGNATURE);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    let field_count = i16::try_from(cols.len()).context("too many columns")?;
    for row in 0..height {
        if out.len() >= COPY_CHUNK_BYTES {
            sink.write_all(&out)?;
            written += out.len();
            out.clear();
        }
        out.extend_from_slice(&field_count.to_be_bytes());
        for col in &cols {
            match col {
                Col::I64(ca) => put_fixed(&mut out, ca.get(row).map(i64::to_be_bytes)),
                Col::F64(ca) => put_fixed(&mut out, ca.get(row).map(|v| v.to_bits().to_be_bytes())),
                Col::Bool(ca) => put_fixed(&mut out, ca.get(row).map(|v| [u8::from(v)])),
                Col::Ts(ca) => put_fixed(
                    &mut out,
                    ca.get(row)
                        .map(|v| (v - PG_EPOCH_OFFSET_MICROS).to_be_bytes()),
                ),
                Col::Str(ca) => match ca.get(row) {
                    Some(text) => {
                        let len = i32::try_from(text.len()).context("text value over 2 GB")?;
                        out.extend_from_slice(&len.to_be_bytes());
                        out.extend_from_slice(text.as_bytes());
                    }
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                },
            }
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    sink.write_all(&out)?;
    Ok(written + out.len())
}

fn put_fixed<const N: usize>(out: &mut Vec<u8>, value: Option<[u8; N]>) {
    match value {
        Some(bytes) => {
            out.extend_from_slice(&(N as i32).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

/// Decodes a binary COPY stream into a table of `def`'s columns.
pub(crate) fn decode_binary_copy(def: &TableDef, mut reader: impl Read) -> Result<DataFrame> {
    enum Builder {
        I64(Vec<Option<i64>>),
        F64(Vec<Option<f64>>),
        // Text goes straight into a string view array: no allocation per value.
        Str(StringChunkedBuilder),
        Bool(Vec<Option<bool>>),
        Ts(Vec<Option<i64>>),
    }
    let mut header = [0u8; 19];
    reader
        .read_exact(&mut header)
        .context("binary COPY header")?;
    if &header[..11] != COPY_SIGNATURE {
        bail!("not a binary COPY stream");
    }
    let ext_len = i32::from_be_bytes([header[15], header[16], header[17], header[18]]);
    if ext_len > 0 {
        let mut skip = vec![0u8; ext_len as usize];
        reader.read_exact(&mut skip)?;
    }
    let mut builders: Vec<Builder> = def
        .columns
        .iter()
        .map(|c| match c.sql_type {
            SqlType::BigInt => Builder::I64(Vec::new()),
            SqlType::Double => Builder::F64(Vec::new()),
            SqlType::Text => Builder::Str(StringChunkedBuilder::new(c.name.as_str().into(), 0)),
            SqlType::Boolean => Builder::Bool(Vec::new()),
            SqlType::Timestamp => Builder::Ts(Vec::new()),
        })
        .collect();
    let mut buf = Vec::new();
    loop {
        let mut count = [0u8; 2];
        reader.read_exact(&mut count)?;
        let count = i16::from_be_bytes(count);
        if count == -1 {
            break;
        }
        if count as usize != builders.len() {
            bail!("row has {count} fields, expected {}", builders.len());
        }
        for builder in builders.iter_mut() {
            let mut len = [0u8; 4];
            reader.read_exact(&mut len)?;
            let len = i32::from_be_bytes(len);
            let value = if len < 0 {
                None
            } else {
                buf.resize(len as usize, 0);
                reader.read_exact(&mut buf)?;
                Some(&buf[..])
            };
            let fixed8 = |v: &[u8]| -> Result<[u8; 8]> {
                v.try_into()
                    .map_err(|_| anyhow::anyhow!("a fixed-size field is not 8 bytes"))
            };
            match builder {
                Builder::I64(values) => {
                    values.push(value.map(fixed8).transpose()?.map(i64::from_be_bytes))
                }
                Builder::F64(values) => values.push(
                    value
                        .map(fixed8)
                        .transpose()?
                        .map(|b| f64::from_bits(u64::from_be_bytes(b))),
                ),
                Builder::Ts(values) => values.push(
                    value
                        .map(fixed8)
                        .transpose()?
                        .map(|b| i64::from_be_bytes(b) + PG_EPOCH_OFFSET_MICROS),
                ),
                Builder::Bool(values) => values.push(value.map(|v| v.first() == Some(&1))),
                Builder::Str(values) => values.append_option(
                    value
                        .map(std::str::from_utf8)
                        .transpose()
                        .context("text is not UTF-8")?,
                ),
            }
        }
    }
    let mut columns = Vec::with_capacity(builders.len());
    let mut height = 0;
    for (builder, col_def) in builders.into_iter().zip(&def.columns) {
        let name = PlSmallStr::from(col_def.name.as_str());
        let column = match builder {
            Builder::I64(values) => Column::new(name, values),
            Builder::F64(values) => Column::new(name, values),
            Builder::Str(values) => values.finish().into_column().with_name(name),
            Builder::Bool(values) => Column::new(name, values),
            Builder::Ts(values) => {
                Column::new(name, values).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
            }
        };
        height = column.len();
        columns.push(column);
    }
    Ok(DataFrame::new(height, columns)?)
}
