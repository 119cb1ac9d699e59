//! The version of the host API (the WIT world plugins are built against) and
//! the compatibility rules between it and what a plugin was built for.

use semver::{Version, VersionReq};

/// The host API version is a plain semantic version; the alias names intent.
pub type HostApiVersion = Version;

/// The host API version this build of lord implements.
///
/// A function rather than a constant because `semver::Version` carries
/// heap-allocated pre-release and build fields.
pub fn host_api_version() -> HostApiVersion {
    Version::new(0, 2, 1)
}

/// Whether a plugin built against `plugin_api` can run on this host.
///
/// Cargo-style compatibility: same major version, and while the major version
/// is 0 the minor version is the breaking one, so it must match too. On top of
/// that the plugin may not be newer than the host, because it could import
/// functions this host does not have.
pub fn host_api_supports(plugin_api: &Version) -> bool {
    let host = host_api_version();
    let same_line = if host.major == 0 {
        plugin_api.major == 0 && plugin_api.minor == host.minor
    } else {
        plugin_api.major == host.major
    };
    same_line && *plugin_api <= host
}

/// Whether a manifest's `host-api` requirement accepts this host.
pub fn host_api_satisfied_by(req: &VersionReq) -> bool {
    req.matches(&host_api_version())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(plugin_api: &str, expected: bool) {
        let version = Version::parse(plugin_api).unwrap();
        assert_eq!(
            host_api_supports(&version),
            expected,
            "plugin api {plugin_api}"
        );
    }

    #[test]
    fn host_is_0_2_1() {
        assert_eq!(host_api_version(), Version::new(0, 2, 1));
    }

    #[test]
    fn supports() {
        let cases = [
            ("0.2.0", true), // 0.2.1 only added `delivery`
            ("0.2.0-alpha.1", true),
            ("0.2.1", true),
            ("0.2.5", false), // newer than the host
            ("0.3.0", false),
            ("0.1.0", false), // before the guest interface gained handle-event
            ("0.0.9", false),
            ("1.0.0", false),
        ];
        for (plugin_api, expected) in cases {
            check(plugin_api, expected);
        }
    }

    #[test]
    fn satisfied_by() {
        let cases = [
            ("^0.2", true),
            ("0.2.0", true),
            (">=0.2, <0.3", true),
            ("*", true),
            ("^0.1", false),
            ("^0.3", false),
            ("^1", false),
            ("=0.2.1", true),
            ("=0.2.2", false),
        ];
        for (req, expected) in cases {
            let req = VersionReq::parse(req).unwrap();
            assert_eq!(host_api_satisfied_by(&req), expected, "req {req}");
        }
    }
}
