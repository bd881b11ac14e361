//! Progress display: indicatif bars on a terminal, nothing in pipes or CI; and the CPU time
//! the timing logs report.

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

/// User + system CPU seconds of this process so far (all threads; Linux `/proc`, 10 ms
/// resolution), for the timing log on a shared, busy machine; NaN elsewhere.
pub(crate) fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}
