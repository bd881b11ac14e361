//! Any config text either loads or is a `ConfigError`, never a panic; validation never panics;
//! and the settings `--show-settings` prints load back to the same settings.
#![no_main]

use std::path::Path;

use fluz_fuzz::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text, Path::new("/fuzz/config.toml")) else {
        return;
    };
    let _ = config.validate();
    let shown = config.to_display_toml();
    let again = Config::parse(&shown, Path::new("/fuzz/config.toml"))
        .unwrap_or_else(|err| panic!("the shown settings do not load: {err}\n{shown}"));
    assert_eq!(again.to_display_toml(), shown);
});
