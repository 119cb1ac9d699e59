//! The keys of `lord scan`'s policy (`scan.*`): the licences a plugin's
//! SPDX expression may and may not need, and the severity at which a scan
//! fails. Checked here with the rest of lord's keys, so a typo in a
//! machine's policy is refused when it is written, not ignored at the
//! next scan.

use serde_json::Value;

/// The severities `lord scan` reports, least first (`lord_scan::Severity`;
/// this crate depends on nothing of lord's).
const SEVERITIES: &[&str] = &["note", "warning", "error", "critical"];

/// The keys and their defaults: no licence is denied or required, and a
/// finding of `error` or worse fails the scan.
pub(crate) fn defaults() -> [(&'static str, Value); 3] {
    [
        ("scan.licence-allow", Value::Array(Vec::new())),
        ("scan.licence-deny", Value::Array(Vec::new())),
        ("scan.fail-on", Value::from("error")),
    ]
}

/// Checks one `scan.*` key; `None` for a key lord does not know.
pub(crate) fn check(key: &str, value: &Value) -> Option<Result<(), String>> {
    Some(match key {
        "scan.licence-allow" | "scan.licence-deny" => match value.as_array() {
            Some(ids)
                if ids.iter().all(|id| {
                    id.as_str().is_some_and(|id| {
                        !id.is_empty()
                            && id
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+'))
                    })
                }) =>
            {
                Ok(())
            }
            _ => Err(format!(
                "must be a list of SPDX licence ids, like [\"GPL-3.0-only\", \"AGPL-3.0-only\"]; \
                 got {value}"
            )),
        },
        "scan.fail-on" => match value.as_str() {
            Some(s) if SEVERITIES.contains(&s) => Ok(()),
            _ => Err(format!(
                "must be one of {}; got {value}",
                SEVERITIES.join(", ")
            )),
        },
        _ => return None,
    })
}
