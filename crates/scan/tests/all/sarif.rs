//! SARIF output validated against the SARIF 2.1.0 JSON schema
//! (`tests/data/sarif-schema-2.1.0.json`, see `tests/data/SOURCE.md`),
//! with formats checked; and proof that the validator refuses documents
//! that break the schema, so a pass means something.

use lord_scan::{Policy, Rule};

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
    )
    .expect("the schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles")
}

fn problems(validator: &jsonschema::Validator, document: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn a_known_advisory_a_forbidden_licence_and_an_undeclared_import_are_each_reported_in_valid_sarif()
{
    let undeclared = super::loaded("hostile/undeclared");
    let version = undeclared.manifest.plugin.version.to_string();
    assert_eq!(version, "0.1.0");
    let advisory = super::advisory("undeclared", "0.2.0", "HIGH");
    let policy = Policy {
        licence_deny: vec!["MIT".to_owned(), "Apache-2.0".to_owned()],
        ..Policy::default()
    };
    let report = lord_scan::scan(undeclared.subject(), &[advisory], &policy);
    let hello = lord_scan::scan(super::loaded("hello").subject(), &[], &Policy::default());
    let log = serde_json::to_value(lord_scan::sarif::log(&[report, hello])).expect("json");

    let validator = validator();
    let found = problems(&validator, &log);
    assert!(found.is_empty(), "invalid SARIF: {found:#?}\n{log:#}");

    let results = log["runs"][0]["results"].as_array().expect("results");
    for (rule, level) in [
        (Rule::KnownVulnerability, "error"),
        (Rule::LicenceDenied, "error"),
        (Rule::UndeclaredImport, "error"),
    ] {
        let result = results
            .iter()
            .find(|r| r["ruleId"] == rule.id())
            .unwrap_or_else(|| panic!("no `{rule}` result in {log:#}"));
        assert_eq!(result["level"], level, "{result:#}");
        assert_eq!(result["properties"]["plugin"], "undeclared");
        let index = result["ruleIndex"].as_u64().expect("an index") as usize;
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"][index]["id"],
            rule.id()
        );
    }
    let import = results
        .iter()
        .find(|r| r["ruleId"] == Rule::UndeclaredImport.id())
        .expect("the import");
    assert_eq!(import["properties"]["severity"], "critical");
    let name = import["locations"][0]["logicalLocations"][0]["name"]
        .as_str()
        .expect("a name");
    assert!(name.starts_with("wasi:sockets/"), "{name}");
}

#[test]
fn the_validator_refuses_what_breaks_the_schema() {
    let hello = lord_scan::scan(super::loaded("hello").subject(), &[], &Policy::default());
    let good = serde_json::to_value(lord_scan::sarif::log(&[hello])).expect("json");
    let validator = validator();
    assert!(problems(&validator, &good).is_empty());

    // SARIF has no `critical` level: lord keeps it in the properties.
    let mut bad_level = good.clone();
    bad_level["runs"][0]["results"][0]["level"] = "critical".into();
    assert!(!problems(&validator, &bad_level).is_empty());

    let mut no_version = good.clone();
    no_version
        .as_object_mut()
        .expect("an object")
        .remove("version");
    assert!(!problems(&validator, &no_version).is_empty());

    let mut negative_offset = good.clone();
    negative_offset["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] =
        serde_json::json!({"byteOffset": -5});
    assert!(!problems(&validator, &negative_offset).is_empty());

    let mut no_driver_name = good;
    no_driver_name["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .expect("an object")
        .remove("name");
    assert!(!problems(&validator, &no_driver_name).is_empty());
}
