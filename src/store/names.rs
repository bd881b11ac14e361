//! Names that reach a database or a message: identifier checks and password redaction (a leaf:
//! the config and the fuzz crate use it without the store).

/// True for a PostgreSQL identifier we accept unquoted-safe: `[A-Za-z_][A-Za-z0-9_]*`, ≤ 63 bytes.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

/// Replaces the password of a `postgres://user:pass@host/db` URL (or `password=` in a
/// key/value string, or a Spark Connect `;token=`) with `***`.
pub(crate) fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                return format!(
                    "{}://{}:***{}",
                    &url[..scheme_end],
                    &userinfo[..colon],
                    &rest[at..]
                );
            }
        }
        // A password may also sit in the query string.
        return redact_key_value(url);
    }
    redact_key_value(url)
}

fn redact_key_value(text: &str) -> String {
    let mut text = text.to_string();
    for key in ["password=", "token="] {
        let lower = text.to_ascii_lowercase();
        let Some(start) = lower.find(key) else {
            continue;
        };
        let value_start = start + key.len();
        let value_end = text[value_start..]
            .find([' ', '&', ';'])
            .map_or(text.len(), |offset| value_start + offset);
        text = format!("{}***{}", &text[..value_start], &text[value_end..]);
    }
    text
}
