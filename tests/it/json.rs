//! `--format json` always prints one JSON document on standard output, whatever the exit code:
//! findings or none, differences or none, bad input, bad usage (issue 13, item 5).

use crate::support::{copy_case, git_commit_all, hydrate, transcript};

/// Runs `args` in `root`; asserts the exit code and that stdout parses as JSON; returns it.
fn json_of(root: &camino::Utf8Path, args: &[&str], code: i32) -> serde_json::Value {
    let out = hydrate(root, args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", transcript(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} (exit {code}): stdout is not JSON ({e}):\n{}",
            transcript(&out)
        )
    })
}

#[test]
fn every_json_format_prints_json_for_every_exit_code() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    git_commit_all(&root, "initial");

    // Exit 0.
    assert!(json_of(&root, &["lint", "--format", "json", "dev"], 0).is_array());
    assert!(json_of(&root, &["diff", "--all", "--format", "json"], 0)["environments"].is_array());
    assert_eq!(json_of(&root, &["check", "--format", "json"], 0)["clean"], true);
    assert!(json_of(&root, &["envs", "--format", "json"], 0)["environments"][0]["components"].is_array());

    // Exit 1: a lint finding (an unpinned image), differences, a stale out/.
    let deployment = root.join("apps/blog/deployment.yaml");
    let text = fs_err::read_to_string(&deployment).unwrap();
    let image = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("image: "))
        .expect("the blog has an image")
        .to_string();
    fs_err::write(&deployment, text.replace(&image, "nginx:latest")).unwrap();
    let findings = json_of(&root, &["lint", "--format", "json", "prod"], 1);
    assert!(findings.as_array().is_some_and(|f| !f.is_empty()), "{findings}");
    assert!(json_of(&root, &["diff", "prod", "--format", "json"], 1)["environments"][0].is_object());
    fs_err::write(&deployment, text.replace(&image, "nginx:1.27.1")).unwrap();
    let check = json_of(&root, &["check", "--format", "json"], 1);
    assert_eq!(check["clean"], false);
    assert_eq!(check["environments"][1]["env"], "prod");
    assert!(
        check["fix"][0]
            .as_str()
            .unwrap_or_default()
            .contains("hydrate build prod"),
        "{check}"
    );

    // Exit 2: bad input. Every document is `{"error": …}` with the position.
    let shop = root.join("apps/shop/component.yaml");
    let good = fs_err::read_to_string(&shop).unwrap();
    fs_err::write(
        &shop,
        good.replace("host: shop.${root_domain}", "host: shop.${rootdomain}"),
    )
    .unwrap();
    for args in [
        &["lint", "--format", "json"][..],
        &["lint", "prod", "--format", "json"],
        &["diff", "prod", "--format", "json"],
        &["check", "--format", "json"],
        &["envs", "--format", "json"],
    ] {
        let doc = json_of(&root, args, 2);
        let error = &doc["error"];
        assert_eq!(error["file"], "apps/shop/component.yaml", "{args:?}: {doc}");
        assert_eq!(error["line"], 12, "{args:?}: {doc}");
        assert_eq!(error["column"], 14, "{args:?}: {doc}");
        assert_eq!(
            error["message"], "unknown variable `${rootdomain}`",
            "{args:?}: {doc}"
        );
        assert!(
            error["help"].as_str().is_some_and(|h| h.contains("did you mean")),
            "{doc}"
        );
        assert!(error["rendered"].is_string(), "{doc}");
    }
    let doc = json_of(&root, &["lint", "--format", "json"], 2);
    assert_eq!(doc["error"]["envs"], serde_json::json!(["dev", "prod"]), "{doc}");
    fs_err::write(&shop, good).unwrap();

    // Exit 2: bad usage, ours and clap's.
    for args in [
        &["lint", "--format", "json", "-j", "0"][..],
        &["lint", "--format", "json", "qa"],
        &["lint", "--format", "json", "--bogus"],
        &["lint", "--format=json", "--all", "prod"],
        &["diff", "--format", "json"],
        &["diff", "prod", "--format", "json", "--base", "no-such-branch"],
        &["check", "--format", "json", "--nope"],
        &["envs", "--format", "json", "extra"],
    ] {
        let doc = json_of(&root, args, 2);
        assert!(doc["error"]["message"].is_string(), "{args:?}: {doc}");
    }
    // Outside a git repository.
    let (_tmp2, bare) = copy_case("basic");
    let doc = json_of(&bare, &["check", "--format", "json"], 2);
    assert!(
        doc["error"]["help"]
            .as_str()
            .is_some_and(|h| h.contains("--worktree")),
        "{doc}"
    );
}
