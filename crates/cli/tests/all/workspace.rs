//! The `workspace` plugin end to end, sandboxed with only `fs-read` of the
//! project: one real project tree per ecosystem, written by the test into
//! the project folder, read through `lord workspace --json`, checked for
//! its members, their versions and the graph between them. Its own
//! `tests/cases.toml` runs through `lord pdk test` here too.

use serde_json::Value;

use crate::support::{Lord, fixture};

/// Writes `files` (path, text) under the project folder.
fn tree(lord: &Lord, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = lord.project.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
}

/// The report for the project folder as it is now.
fn report(lord: &Lord) -> Value {
    let run = lord.run(&["workspace", "--json"]);
    run.assert_ok();
    serde_json::from_str(&run.stdout()).expect("--json prints JSON")
}

fn installed(files: &[(&str, &str)]) -> (Lord, Value) {
    let lord = Lord::new();
    lord.install("workspace");
    tree(&lord, files);
    let report = report(&lord);
    (lord, report)
}

fn project<'a>(report: &'a Value, ecosystem: &str) -> &'a Value {
    report["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["ecosystem"] == ecosystem)
        .unwrap_or_else(|| panic!("no {ecosystem} project in {report:#}"))
}

/// Each member as `name version path -> deps`, in path order.
fn members(project: &Value) -> Vec<String> {
    project["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            let deps: Vec<&str> = m["depends_on"]
                .as_array()
                .expect("depends_on")
                .iter()
                .map(|d| d.as_str().expect("name"))
                .collect();
            format!(
                "{} {} {} -> {}",
                m["name"].as_str().expect("name"),
                m["version"].as_str().unwrap_or("-"),
                m["path"].as_str().expect("path"),
                deps.join(",")
            )
        })
        .collect()
}

fn tools(project: &Value) -> Vec<&str> {
    project["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t.as_str().expect("tool"))
        .collect()
}

#[test]
fn cargo_workspace_members_versions_and_graph() {
    let (_lord, report) = installed(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n[workspace.package]\nversion = \"0.7.0\"\n",
        ),
        (
            "crates/base/Cargo.toml",
            "[package]\nname = \"base\"\nversion.workspace = true\n",
        ),
        (
            "crates/app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"1.0.0\"\n[dependencies]\nbase = { path = \"../base\" }\nanyhow = \"1\"\n",
        ),
    ]);
    let cargo = project(&report, "cargo");
    assert_eq!(cargo["workspace"], true);
    assert_eq!(
        members(cargo),
        ["app 1.0.0 crates/app -> base", "base 0.7.0 crates/base -> "]
    );
}

#[test]
fn npm_workspaces_with_pnpm_and_turborepo() {
    let (_lord, report) = installed(&[
        ("package.json", "{\"name\":\"root\",\"private\":true}"),
        ("pnpm-workspace.yaml", "packages:\n  - \"packages/*\"\n"),
        ("turbo.json", "{}"),
        (
            "packages/web/package.json",
            "{\"name\":\"web\",\"version\":\"1.1.0\",\"dependencies\":{\"kit\":\"workspace:^\"}}",
        ),
        (
            "packages/kit/package.json",
            "{\"name\":\"kit\",\"version\":\"0.2.0\"}",
        ),
    ]);
    let npm = project(&report, "npm");
    assert_eq!(tools(npm), ["pnpm", "Turborepo"]);
    assert_eq!(npm["manifest"], "pnpm-workspace.yaml");
    assert_eq!(
        members(npm),
        [
            "kit 0.2.0 packages/kit -> ",
            "web 1.1.0 packages/web -> kit"
        ]
    );
}

#[test]
fn yarn_workspaces_with_lerna() {
    let (_lord, report) = installed(&[
        (
            "package.json",
            "{\"private\":true,\"workspaces\":[\"libs/*\"]}",
        ),
        ("yarn.lock", ""),
        ("lerna.json", "{\"version\":\"independent\"}"),
        (
            "libs/a/package.json",
            "{\"name\":\"a\",\"version\":\"3.0.0\",\"devDependencies\":{\"b\":\"*\"}}",
        ),
        (
            "libs/b/package.json",
            "{\"name\":\"b\",\"version\":\"1.0.0\"}",
        ),
    ]);
    let npm = project(&report, "npm");
    assert_eq!(tools(npm), ["Yarn", "Lerna"]);
    assert_eq!(members(npm), ["a 3.0.0 libs/a -> b", "b 1.0.0 libs/b -> "]);
}

#[test]
fn nx_projects_without_package_manager_workspaces() {
    let (_lord, report) = installed(&[
        ("package.json", "{\"name\":\"acme\"}"),
        ("nx.json", "{}"),
        (
            "apps/site/project.json",
            "{\"name\":\"site\",\"implicitDependencies\":[\"ui\"]}",
        ),
        ("libs/ui/project.json", "{\"name\":\"ui\"}"),
    ]);
    let npm = project(&report, "npm");
    assert_eq!(tools(npm), ["Nx"]);
    assert_eq!(members(npm), ["site - apps/site -> ui", "ui - libs/ui -> "]);
}

#[test]
fn go_work_modules_and_their_requirements() {
    let (_lord, report) = installed(&[
        ("go.work", "go 1.22\n\nuse (\n\t./api\n\t./util\n)\n"),
        (
            "api/go.mod",
            "module example.com/api\n\ngo 1.22\n\nrequire example.com/util v0.0.0\n",
        ),
        ("util/go.mod", "module example.com/util\n\ngo 1.22\n"),
    ]);
    let go = project(&report, "go");
    assert_eq!(go["workspace"], true);
    assert_eq!(
        members(go),
        [
            "example.com/api - api -> example.com/util",
            "example.com/util - util -> "
        ]
    );
}

#[test]
fn uv_workspace_with_normalised_names() {
    let (_lord, report) = installed(&[
        (
            "pyproject.toml",
            "[project]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"Shared_Lib>=0.1\"]\n[tool.uv.workspace]\nmembers = [\"libs/*\"]\n",
        ),
        (
            "libs/shared/pyproject.toml",
            "[project]\nname = \"shared-lib\"\nversion = \"0.2.0\"\n",
        ),
    ]);
    let python = project(&report, "python");
    assert_eq!(tools(python), ["uv"]);
    assert_eq!(
        members(python),
        [
            "app 0.1.0 . -> shared-lib",
            "shared-lib 0.2.0 libs/shared -> "
        ]
    );
}

#[test]
fn poetry_project() {
    let (_lord, report) = installed(&[(
        "pyproject.toml",
        "[tool.poetry]\nname = \"poet\"\nversion = \"2.0.1\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\n",
    )]);
    let python = project(&report, "python");
    assert_eq!(tools(python), ["Poetry"]);
    assert_eq!(python["workspace"], false);
    assert_eq!(members(python), ["poet 2.0.1 . -> "]);
}

#[test]
fn maven_modules_with_inherited_versions() {
    let pom = |body: &str| {
        format!("<project xmlns=\"http://maven.apache.org/POM/4.0.0\">{body}</project>")
    };
    let root = pom(
        "<artifactId>parent</artifactId><version>4.2.0</version><modules><module>lib</module><module>app</module></modules>",
    );
    let lib = pom("<parent><version>4.2.0</version></parent><artifactId>lib</artifactId>");
    let app = pom(
        "<parent><version>4.2.0</version></parent><artifactId>app</artifactId><dependencies><dependency><artifactId>lib</artifactId></dependency></dependencies>",
    );
    let (_lord, report) = installed(&[
        ("pom.xml", &root),
        ("lib/pom.xml", &lib),
        ("app/pom.xml", &app),
    ]);
    let maven = project(&report, "maven");
    assert_eq!(
        members(maven),
        [
            "parent 4.2.0 . -> ",
            "app 4.2.0 app -> lib",
            "lib 4.2.0 lib -> "
        ]
    );
}

#[test]
fn gradle_multi_project_build() {
    let (_lord, report) = installed(&[
        (
            "settings.gradle",
            "rootProject.name = 'orbit'\ninclude 'api', ':core'\n",
        ),
        ("build.gradle", "version = '0.5.0'\n"),
        (
            "api/build.gradle",
            "dependencies {\n  implementation project(':core')\n}\n",
        ),
        ("core/build.gradle", "version = '0.6.0'\n"),
    ]);
    let gradle = project(&report, "gradle");
    assert_eq!(
        members(gradle),
        [
            "orbit 0.5.0 . -> ",
            "api 0.5.0 api -> core",
            "core 0.6.0 core -> "
        ]
    );
}

#[test]
fn broken_manifests_are_reported_and_the_rest_stands() {
    let (lord, report) = installed(&[
        ("Cargo.toml", "[workspace\n"),
        ("go.mod", "module example.com/ok\n"),
    ]);
    let cargo = project(&report, "cargo");
    let problems = cargo["problems"].to_string();
    assert!(
        problems.contains("Cargo.toml: not valid TOML"),
        "{problems}"
    );
    assert_eq!(members(project(&report, "go")), ["example.com/ok - . -> "]);

    // People's form says the same.
    let text = lord.run(&["workspace"]);
    text.assert_ok();
    let out = text.stdout();
    assert!(out.contains("problem: Cargo.toml: not valid TOML"), "{out}");
    assert!(out.contains("Go project (go.mod): 1 member"), "{out}");
}

#[test]
fn the_workspace_plugin_passes_its_own_cases() {
    let lord = Lord::new();
    let run = lord.run(&["pdk", "test", fixture("workspace").to_str().expect("utf-8")]);
    run.assert_ok();
    let out = run.stdout();
    assert!(out.contains(" 0 failed"), "{out}");
    // Every declared case ran (besides the generated ones).
    let declared = std::fs::read_to_string(fixture("workspace").join("tests/cases.toml"))
        .expect("cases")
        .matches("[[case]]")
        .count();
    assert!(declared >= 10, "only {declared} declared cases");
    assert!(!out.contains("FAIL"), "{out}");
}
