//! The server's log: `log.level` (or `RUST_LOG`) as a filter checked up front, `log.format`
//! `pretty` (colour only on a terminal) or `json`, on stderr.

use anyhow::bail;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Checks a filter such as `info` or `info,latchkey_http=debug`. Stricter than `EnvFilter`,
/// which reads any bare word (`loud`) as a target name and so silently logs nothing: a
/// directive is a level, or `target=level`.
pub fn check_filter(filter: &str) -> anyhow::Result<EnvFilter> {
    let is_level = |l: &str| LEVELS.contains(&l.trim().to_ascii_lowercase().as_str());
    if filter.trim().is_empty() {
        bail!(
            "{filter:?} is empty; expected a level ({})",
            LEVELS.join(", ")
        );
    }
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !is_level(level) {
            bail!(
                "{filter:?} is not a log level or filter: {directive:?} names no level ({}); \
                 write e.g. info or info,latchkey_http=debug",
                LEVELS.join(", ")
            );
        }
    }
    EnvFilter::builder()
        .parse(filter)
        .map_err(|e| anyhow::anyhow!("{filter:?} is not a valid log filter: {e}"))
}

/// Installs the subscriber. `RUST_LOG`, when set, wins over `log.level`; either is refused
/// when it does not parse.
pub fn init(level: &str, format: &str, rust_log: Option<&str>) -> anyhow::Result<()> {
    let filter = match rust_log {
        Some(v) => check_filter(v).map_err(|e| anyhow::anyhow!("RUST_LOG: {e}"))?,
        None => check_filter(level).map_err(|e| anyhow::anyhow!("log.level: {e}"))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_filter;

    #[test]
    fn filters_name_levels() {
        for ok in [
            "info",
            "INFO",
            "warn,latchkey_http=debug",
            "off",
            "latchkey=trace",
        ] {
            assert!(check_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["loud", "", "info,loud", "latchkey=loud", "latchkey"] {
            let e = check_filter(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
