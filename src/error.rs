//! Error classification: which failures are the user's to fix (exit code 2) and which are ours (1).

use std::fmt;

/// A failure the user can fix: bad config, bad input, unreachable database, a held lock.
/// Anything carrying one of these anywhere in its chain exits with code 2.
#[derive(Debug)]
pub(crate) struct UserError(pub String);

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// Builds an `anyhow::Error` that exits with code 2.
pub(crate) fn user_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(message.into()))
}

/// Exit code for an error chain: 2 when any link is a user error or a lost PostgreSQL
/// connection (the server went away: the user's to fix, whichever query noticed it), else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let user = err.chain().any(|cause| {
        cause.is::<UserError>()
            || cause.is::<crate::config::ConfigError>()
            || cause.is::<crate::sources::SourceError>()
            || cause
                .downcast_ref::<postgres::Error>()
                .is_some_and(connection_lost)
    });
    if user {
        2
    } else {
        1
    }
}

/// True when the error is a closed stdout (e.g. `fluz ... | head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// True when a database error means the server or the connection went away (closed socket,
/// I/O failure, or SQLSTATE class 08 "connection exception" / 57 "operator intervention", e.g.
/// 57P01 when the server shuts down): the database is the user's to fix.
pub(crate) fn connection_lost(err: &postgres::Error) -> bool {
    match err.as_db_error() {
        None => true,
        Some(db) => {
            let code = db.code().code();
            err.is_closed() || code.starts_with("08") || code.starts_with("57")
        }
    }
}
