//! Jsonnet generator: the fixture project `tests/cases/jsonnet/` through `hydrate::jsonnet::evaluate`.

use camino::{Utf8Path, Utf8PathBuf};
use hydrate::jsonnet::{JsonnetContext, JsonnetError, evaluate};
use rayon::prelude::*;

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cases() -> Utf8PathBuf {
    repo().join("tests/cases/jsonnet")
}

fn ctx() -> JsonnetContext {
    JsonnetContext {
        env: "prod".into(),
        root_domain: "example.org".into(),
        features: serde_json::json!({"debug": true, "backups": false}),
        values: serde_json::json!({"replicas": 3, "image": "ghcr.io/acme/single:1.2.3", "ratio": 0.25, "port": 8080}),
        components: serde_json::json!([
            {"name": "blog", "namespace": "apps", "layer": "apps", "hosts": ["blog.example.org"]},
            {"name": "postgres", "namespace": "data", "layer": "platform", "hosts": []},
            {"name": "shop", "namespace": "apps", "layer": "apps", "hosts": ["shop.example.org", "www.example.org"]}
        ]),
    }
}

fn pretty(objects: &[serde_json::Value]) -> String {
    serde_json::to_string_pretty(objects).expect("JSON values serialise")
}

fn eval_ok(file: &str) -> Vec<serde_json::Value> {
    evaluate(&cases(), Utf8Path::new(file), &ctx())
        .unwrap_or_else(|e| panic!("{file}: {:?}", miette::Report::new(e)))
}

fn eval_err(file: &str) -> JsonnetError {
    match evaluate(&cases(), Utf8Path::new(file), &ctx()) {
        Ok(v) => panic!("{file} should fail, got {}", pretty(&v)),
        Err(e) => e,
    }
}

/// The error as the CLI shows it (miette, no colours), to check that it reads well too.
fn rendered(err: JsonnetError) -> String {
    let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    let mut out = String::new();
    handler.render_report(&mut out, &err).expect("renders");
    out
}

#[test]
fn one_object_from_a_function_with_lib_and_relative_imports() {
    let objects = eval_ok("apps/single/main.jsonnet");
    assert_eq!(objects.len(), 1);
    insta::assert_snapshot!(pretty(&objects));
}

#[test]
fn array_from_ext_vars_with_a_vendor_import() {
    let objects = eval_ok("apps/array/main.jsonnet");
    let kinds: Vec<_> = objects
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hosts-blog", "hosts-shop", "debug", "array"]);
    insta::assert_snapshot!(pretty(&objects));
}

#[test]
fn named_objects_come_in_key_order_with_importstr() {
    let objects = eval_ok("apps/named/main.jsonnet");
    let names: Vec<_> = objects
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["settings", "named", "banner"],
        "aa_settings, mm_service, zz_banner"
    );
    assert_eq!(
        objects[0]["data"]["source"], "apps/named/main.jsonnet",
        "std.thisFile is repo-relative"
    );
    insta::assert_snapshot!(pretty(&objects));
}

#[test]
fn a_feature_switched_off_drops_the_null_element() {
    let mut context = ctx();
    context.features = serde_json::json!({"debug": false});
    let objects = evaluate(&cases(), Utf8Path::new("apps/array/main.jsonnet"), &context).unwrap();
    assert!(objects.iter().all(|o| o["metadata"]["name"] != "debug"));
    assert_eq!(objects.len(), 3);
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let err = eval_err("errors/syntax.jsonnet");
    assert!(matches!(err, JsonnetError::Syntax(_)));
    assert_eq!(
        err.location(),
        Some((Utf8Path::new("errors/syntax.jsonnet"), Some(4), Some(3)))
    );
    let text = err.to_string();
    assert!(
        text.starts_with("`errors/syntax.jsonnet:4:3`: syntax error:"),
        "{text}"
    );
    insta::assert_snapshot!(rendered(err));
}

#[test]
fn runtime_error_names_file_line_and_trace() {
    let err = eval_err("errors/runtime.jsonnet");
    let text = err.to_string();
    assert!(
        text.starts_with("`errors/runtime.jsonnet:3:17`: runtime error: boom"),
        "{text}"
    );
    assert!(
        text.contains("at errors/runtime.jsonnet:5:"),
        "the caller is in the trace: {text}"
    );
    insta::assert_snapshot!(rendered(err));
}

#[test]
fn import_escaping_the_repo_is_refused_at_the_import() {
    let err = eval_err("errors/escape.jsonnet");
    let text = err.to_string();
    assert!(
        text.starts_with("`errors/escape.jsonnet:2:24`: import `../../x.libsonnet`"),
        "{text}"
    );
    assert!(text.contains("outside the repository root"), "{text}");
    insta::assert_snapshot!(rendered(err));
}

#[test]
fn infinite_recursion_is_an_error_not_a_crash() {
    let err = eval_err("errors/recursion.jsonnet");
    let text = err.to_string();
    assert!(text.starts_with("`errors/recursion.jsonnet:2:"), "{text}");
    assert!(text.contains("stack overflow"), "{text}");
    assert!(
        text.lines().count() < 20,
        "the repeated frames are folded: {text}"
    );
    insta::assert_snapshot!(rendered(err));
}

#[test]
fn an_error_in_a_library_shows_both_files() {
    let text = eval_err("errors/lib-error.jsonnet").to_string();
    assert!(text.starts_with("`lib/hydrate-test/bad.libsonnet:3:"), "{text}");
    assert!(text.contains("at errors/lib-error.jsonnet:4:"), "{text}");
}

#[test]
fn a_syntax_error_in_a_library_names_the_library() {
    let err = eval_err("errors/lib-syntax.jsonnet");
    assert!(matches!(err, JsonnetError::Syntax(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("`lib/hydrate-test/broken.libsonnet:3:"),
        "{text}"
    );
}

#[test]
fn importstr_of_an_absolute_path_is_refused() {
    let text = eval_err("errors/absolute.jsonnet").to_string();
    assert!(text.starts_with("`errors/absolute.jsonnet:2:"), "{text}");
    assert!(text.contains("absolute path"), "{text}");
    assert!(!text.contains("root:"), "nothing of the file leaks: {text}");
}

#[test]
fn a_missing_import_lists_where_it_looked() {
    let text = eval_err("errors/missing-import.jsonnet").to_string();
    assert!(text.starts_with("`errors/missing-import.jsonnet:1:24`"), "{text}");
    assert!(text.contains("looked in `errors/`, `lib/`, `vendor/`"), "{text}");
}

#[test]
fn an_undefined_variable_is_found_before_evaluation() {
    let text = eval_err("errors/undefined.jsonnet").to_string();
    assert!(text.starts_with("`errors/undefined.jsonnet:3:9`"), "{text}");
    assert!(text.contains("unknown_variable"), "{text}");
}

#[test]
fn a_wrong_result_shape_is_explained() {
    let err = eval_err("errors/shape.jsonnet");
    assert!(matches!(err, JsonnetError::Shape { .. }));
    let text = err.to_string();
    assert!(
        text.contains("`errors/shape.jsonnet`: result[1]") && text.contains("a string"),
        "{text}"
    );
}

#[test]
fn an_unsupplied_parameter_is_explained() {
    let err = eval_err("errors/parameter.jsonnet");
    assert!(
        matches!(&err, JsonnetError::UnknownParameter { param, .. } if param == "cluster"),
        "{err}"
    );
}

#[test]
fn deep_finite_recursion_evaluates() {
    let objects = eval_ok("errors/deep-data.jsonnet");
    let mut node = &objects[0]["nest"];
    let mut depth = 0;
    while let Some(child) = node.get("child") {
        node = child;
        depth += 1;
    }
    assert_eq!(depth, 400);
}

#[test]
fn a_missing_entry_file_is_an_error() {
    let err = eval_err("apps/nope/main.jsonnet");
    assert!(matches!(err, JsonnetError::Missing { .. }), "{err}");
    let err = eval_err("../../../Cargo.toml");
    assert!(matches!(err, JsonnetError::EntryOutsideRoot { .. }), "{err}");
}

const ALL: [&str; 16] = [
    "errors/lib-syntax.jsonnet",
    "errors/absolute.jsonnet",
    "apps/single/main.jsonnet",
    "apps/array/main.jsonnet",
    "apps/named/main.jsonnet",
    "errors/syntax.jsonnet",
    "errors/runtime.jsonnet",
    "errors/escape.jsonnet",
    "errors/recursion.jsonnet",
    "errors/lib-error.jsonnet",
    "errors/missing-import.jsonnet",
    "errors/undefined.jsonnet",
    "errors/shape.jsonnet",
    "errors/parameter.jsonnet",
    "errors/deep-data.jsonnet",
    "apps/single/main.jsonnet",
];

/// Every fixture's outcome as text: the objects, or the error with its rendering.
fn outcome(file: &str) -> String {
    match evaluate(&cases(), Utf8Path::new(file), &ctx()) {
        Ok(objects) => format!("{file}\n{}", pretty(&objects)),
        Err(e) => format!("{file}\n{}", rendered(e)),
    }
}

#[test]
fn messages_never_hold_absolute_paths() {
    let root = std::fs::canonicalize(repo()).unwrap().display().to_string();
    for file in ALL {
        let text = outcome(file);
        assert!(!text.contains(&root), "{text}");
        assert!(!text.contains(repo().as_str()), "{text}");
    }
}

#[test]
fn output_is_the_same_on_1_and_4_threads() {
    let run = |threads: usize| -> Vec<String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            // Three rounds so that several evaluations overlap on every worker.
            let files: Vec<&str> = ALL.iter().chain(ALL.iter()).chain(ALL.iter()).copied().collect();
            files.par_iter().map(|f| outcome(f)).collect()
        })
    };
    let one = run(1);
    let four = run(4);
    assert_eq!(one.len(), 3 * ALL.len());
    assert_eq!(one, four);
    assert_eq!(one, run(4), "a second run gives the same bytes");
}
