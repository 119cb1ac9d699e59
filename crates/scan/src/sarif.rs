//! SARIF 2.1.0 (OASIS), the format code-scanning services read: one run
//! of the tool `lord scan`, its rules, and one result per finding. Only
//! the parts lord writes are modelled; the test suite validates the
//! output against the official JSON schema.

use serde::Serialize;

use crate::finding::{Finding, Location, Report, Rule, Severity};

pub(crate) const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

#[derive(Debug, Serialize)]
pub struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Debug, Serialize)]
struct Run {
    tool: Tool,
    results: Vec<ResultItem>,
    #[serde(rename = "columnKind")]
    column_kind: &'static str,
}

#[derive(Debug, Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<RuleDescriptor>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleDescriptor {
    id: &'static str,
    short_description: Message,
}

#[derive(Debug, Serialize)]
struct Message {
    text: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultItem {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<SarifLocation>,
    properties: Properties,
}

#[derive(Debug, Serialize)]
struct Properties {
    /// lord's own severity: SARIF's levels have no `critical`.
    severity: Severity,
    plugin: String,
    version: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Debug, Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    byte_offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_length: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    kind: &'static str,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Note => "note",
        Severity::Warning => "warning",
        Severity::Error | Severity::Critical => "error",
    }
}

fn location(report: &Report, finding: &Finding) -> SarifLocation {
    let file = |uri: &str, region: Option<Region>| PhysicalLocation {
        artifact_location: ArtifactLocation {
            uri: uri.to_owned(),
        },
        region,
    };
    let logical = |name: &str, kind: &'static str| {
        vec![LogicalLocation {
            name: name.to_owned(),
            kind,
        }]
    };
    match &finding.location {
        Location::File {
            path,
            offset,
            length,
        } => SarifLocation {
            physical_location: file(
                path,
                offset.map(|byte_offset| Region {
                    byte_offset,
                    byte_length: *length,
                }),
            ),
            logical_locations: Vec::new(),
        },
        Location::Manifest { field } => SarifLocation {
            physical_location: file(lord_manifest::MANIFEST_FILE, None),
            logical_locations: logical(field, "member"),
        },
        Location::Import { name } => SarifLocation {
            physical_location: file(&report.component, None),
            logical_locations: logical(name, "module"),
        },
        Location::Export { name } => SarifLocation {
            physical_location: file(&report.component, None),
            logical_locations: logical(name, "function"),
        },
        Location::Advisory { id } => SarifLocation {
            physical_location: file(lord_manifest::MANIFEST_FILE, None),
            logical_locations: logical(id, "object"),
        },
    }
}

/// The SARIF log of `reports`, one run listing every rule.
pub fn log(reports: &[Report]) -> Log {
    let rules = Rule::ALL
        .iter()
        .map(|rule| RuleDescriptor {
            id: rule.id(),
            short_description: Message {
                text: rule.summary().to_owned(),
            },
        })
        .collect();
    let results = reports
        .iter()
        .flat_map(|report| {
            report.findings.iter().map(move |finding| ResultItem {
                rule_id: finding.rule.id(),
                rule_index: Rule::ALL
                    .iter()
                    .position(|r| *r == finding.rule)
                    .unwrap_or(0),
                level: level(finding.severity),
                message: Message {
                    text: finding.message.clone(),
                },
                locations: vec![location(report, finding)],
                properties: Properties {
                    severity: finding.severity,
                    plugin: report.plugin.clone(),
                    version: report.version.clone(),
                },
            })
        })
        .collect();
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "lord scan",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://example.invalid/lord-commander",
                    rules,
                },
            },
            results,
            column_kind: "unicodeCodePoints",
        }],
    }
}
