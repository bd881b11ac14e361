//! Progress display: indicatif bars on a terminal, nothing in pipes or CI.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner or bar that is hidden unless `enabled`.
pub(crate) fn bar(enabled: bool, len: u64, message: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = if len == 0 {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::new(len)
    };
    let style = if len == 0 {
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
    } else {
        ProgressStyle::with_template("{msg:<28} [{bar:30}] {pos}/{len} [{elapsed}]")
    };
    if let Ok(style) = style {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
