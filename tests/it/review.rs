//! Review tooling end to end: real git repositories in temp folders (git2, explicit signatures,
//! no user or system git config), `hydrate diff`, `hydrate check` and `--changed-since`.

use std::collections::BTreeSet;
use std::sync::Once;

use camino::{Utf8Path, Utf8PathBuf};
use clap::Parser;
use git2::{IndexAddOption, Repository, Signature, Time};
use hydrate::cli::{CheckArgs, DiffArgs, DiffFormat as Format};
use hydrate::diff::{self, DiffError, KeyStatus, Report, Status};
use hydrate::git;
use hydrate::output::Tree;

// ---------------------------------------------------------------- the stages as the commands call them

/// What `hydrate diff` and `hydrate check` print, and their exit status.
#[derive(Debug)]
struct Printed {
    exit_code: u8,
    stdout: String,
}

/// `hydrate diff` over the diff stage (environment names are taken as given).
fn diff_run(
    root: &Utf8Path,
    args: &DiffArgs,
    known: &[String],
    render: impl FnMut(&str) -> Result<Tree, DiffError>,
) -> Result<Printed, DiffError> {
    let envs = if args.all {
        known.to_vec()
    } else {
        args.envs.clone()
    };
    let request = diff::Request {
        envs: &envs,
        orphans: args.all,
        base: args.base.as_deref(),
    };
    let reports = diff::run(root, &request, known, render)?;
    let stdout = match args.format {
        Format::Text => reports
            .iter()
            .map(|(env, r)| diff::format_text(r, env))
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Markdown => diff::format_markdown(&reports, diff::MARKDOWN_CAP),
        Format::Json => diff::format_json(&reports),
    };
    Ok(Printed {
        exit_code: u8::from(reports.iter().any(|(_, r)| !r.is_empty())),
        stdout,
    })
}

/// `hydrate check` over the check stage.
fn check_run(
    root: &Utf8Path,
    args: &CheckArgs,
    known: &[String],
    render: impl FnMut(&str) -> Result<Tree, DiffError>,
) -> Result<Printed, DiffError> {
    let all = args.all || args.envs.is_empty();
    let envs = if all { known.to_vec() } else { args.envs.clone() };
    let result = diff::check::run(root, &envs, all, args.worktree, known, render)?;
    Ok(Printed {
        exit_code: u8::from(!result.is_clean()),
        stdout: result.render(),
    })
}

// ---------------------------------------------------------------- fixtures

/// Points libgit2's global, XDG and system config search paths at an empty folder, once.
fn hermetic_git() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let empty = tempfile::tempdir().expect("temp dir");
        let path = empty.path().to_path_buf();
        std::mem::forget(empty); // lives for the whole test process
        for level in [
            git2::ConfigLevel::Global,
            git2::ConfigLevel::XDG,
            git2::ConfigLevel::System,
        ] {
            // SAFETY: libgit2 reads these paths when it loads a config; this runs once, before
            // any repository of these tests is opened.
            unsafe { git2::opts::set_search_path(level, path.as_os_str()) }.expect("set search path");
        }
    });
}

/// A git repository in a temp folder, with commits made by a fixed signature at a fixed time.
struct Fixture {
    _dir: tempfile::TempDir,
    root: Utf8PathBuf,
    repo: Repository,
}

impl Fixture {
    fn new() -> Self {
        hermetic_git();
        let dir = tempfile::tempdir().expect("temp dir");
        let root = Utf8PathBuf::from_path_buf(dir.path().to_path_buf()).expect("utf-8 temp path");
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = Repository::init_opts(&root, &opts).expect("git init");
        Fixture {
            _dir: dir,
            root,
            repo,
        }
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    fn remove(&self, rel: &str) {
        fs_err::remove_file(self.root.join(rel)).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        fs_err::read_to_string(self.root.join(rel)).unwrap()
    }

    /// Writes `tree` into `out/<env>`, replacing what was there.
    fn write_out(&self, env: &str, tree: &Tree) {
        let dir = self.root.join("out").join(env);
        if dir.exists() {
            fs_err::remove_dir_all(&dir).unwrap();
        }
        for (rel, bytes) in tree {
            let path = dir.join(rel);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, bytes).unwrap();
        }
    }

    /// Stages everything (additions and deletions) and commits on `HEAD`.
    fn commit(&self, message: &str) -> git2::Oid {
        let mut index = self.repo.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = Signature::new(
            "Review Test",
            "review@example.invalid",
            &Time::new(1_700_000_000, 0),
        )
        .unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
    }

    /// Creates branch `name` at `HEAD` (without switching to it).
    fn branch(&self, name: &str) {
        let head = self.repo.head().unwrap().peel_to_commit().unwrap();
        self.repo.branch(name, &head, false).unwrap();
    }
}

fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(p, t)| (Utf8PathBuf::from(*p), t.as_bytes().to_vec()))
        .collect()
}

fn envs(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A render function that hands out fixed trees, as `hydrate::compile` would.
fn renderer(trees: Vec<(&'static str, Tree)>) -> impl FnMut(&str) -> Result<Tree, DiffError> {
    move |env| {
        Ok(trees
            .iter()
            .find(|(e, _)| *e == env)
            .map(|(_, t)| t.clone())
            .expect("env rendered by the test"))
    }
}

fn deployment(name: &str, image: &str, replicas: u32) -> String {
    format!(
        "# Source: apps/{name}/component.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: {name}\n          image: {image}\n          ports:\n            - containerPort: 8080\n"
    )
}

fn service(name: &str) -> String {
    format!(
        "# Source: apps/{name}/component.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  selector:\n    app: {name}\n  ports:\n    - port: 80\n      targetPort: 8080\n"
    )
}

fn configmap(name: &str, value: &str) -> String {
    format!(
        "# Source: apps/{name}/component.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n  greeting: {value}\n"
    )
}

fn helmrelease(version: &str, tag: &str) -> String {
    format!(
        "# Source: platform/cert-manager/component.yaml\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: cert-manager\n  namespace: cert-manager\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: cert-manager\n      version: {version}\n      sourceRef:\n        kind: HelmRepository\n        name: jetstack\n  values:\n    image:\n      repository: quay.io/jetstack/cert-manager-controller\n      tag: {tag}\n"
    )
}

fn statefulset(storage: &str, replicas: u32) -> String {
    format!(
        "# Source: platform/postgres/component.yaml\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: postgres\n  namespace: data\nspec:\n  replicas: {replicas}\n  serviceName: postgres\n  selector:\n    matchLabels:\n      app: postgres\n  template:\n    metadata:\n      labels:\n        app: postgres\n    spec:\n      containers:\n        - name: postgres\n          image: postgres:16.4\n  volumeClaimTemplates:\n    - metadata:\n        name: data\n      spec:\n        accessModes: [ReadWriteOnce]\n        resources:\n          requests:\n            storage: {storage}\n"
    )
}

fn plain_secret(password_b64: &str) -> String {
    format!(
        "# Source: apps/crm/component.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: crm-db\n  namespace: apps\ntype: Opaque\ndata:\n  password: {password_b64}\n  username: Y3Jt\n"
    )
}

fn sops_secret(password_enc: &str, recipient: &str, mac: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\n  namespace: data\nstringData:\n  password: ENC[AES256_GCM,data:{password_enc},iv:vUMpILz3xchORqkzDFvgwENY7EqIHHGJdEF6C8xqbFE=,tag:IroV7hykADvD0IUaq6kikA==,type:str]\nsops:\n  age:\n    - recipient: {recipient}\n      enc: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        WRAPPEDKEYFOR{recipient}\n        -----END AGE ENCRYPTED FILE-----\n  lastmodified: \"2024-11-12T13:33:42Z\"\n  mac: ENC[AES256_GCM,data:{mac},iv:u5lhmtXMxyt+3Pw09wWvgBhmKLoOSpKNWUpu/LuCr3Y=,tag:Dg0HFdLgQltzPgnEmltAzQ==,type:str]\n  encrypted_regex: ^(data|stringData)$\n  version: 3.9.0\n"
    )
}

const KUSTOMIZATION_V1: &str =
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment-web.yaml\n";
const KUSTOMIZATION_V2: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment-web.yaml\n  - service-web.yaml\n";

/// The committed `out/prod` of the scenario tests.
fn prod_v1() -> Tree {
    tree(&[
        ("apps/web/kustomization.yaml", KUSTOMIZATION_V1),
        (
            "apps/web/deployment-web.yaml",
            &deployment("web", "ghcr.io/acme/web:1.4.0", 2),
        ),
        ("apps/legacy/configmap-legacy.yaml", &configmap("legacy", "hello")),
        ("apps/crm/secret-crm-db.yaml", &plain_secret("b2xkLXBhc3N3b3Jk")),
        (
            "infra/cert-manager/helmrelease-cert-manager.yaml",
            &helmrelease("v1.14.5", "v1.14.5"),
        ),
        ("data/postgres/statefulset-postgres.yaml", &statefulset("10Gi", 1)),
        (
            "data/postgres/db-credentials.sops.yaml",
            &sops_secret("mHeXsmQ=", "age1alice", "vmrF1"),
        ),
    ])
}

/// A fresh render of `out/prod` that touches every kind of change.
fn prod_v2() -> Tree {
    tree(&[
        ("apps/web/kustomization.yaml", KUSTOMIZATION_V2),
        (
            "apps/web/deployment-web.yaml",
            &deployment("web", "ghcr.io/acme/web:1.5.0", 3),
        ),
        ("apps/web/service-web.yaml", &service("web")),
        ("apps/crm/secret-crm-db.yaml", &plain_secret("bmV3LXBhc3N3b3Jk")),
        (
            "infra/cert-manager/helmrelease-cert-manager.yaml",
            &helmrelease("v1.15.1", "v1.15.1"),
        ),
        ("data/postgres/statefulset-postgres.yaml", &statefulset("20Gi", 1)),
        (
            "data/postgres/db-credentials.sops.yaml",
            &sops_secret("mHeXsmQ=", "age1bob", "other"),
        ),
    ])
}

/// Substrings of the secret fixtures that must never appear in any output.
const SECRET_MATERIAL: &[&str] = &[
    "b2xkLXBhc3N3b3Jk",
    "bmV3LXBhc3N3b3Jk",
    "Y3Jt",
    "mHeXsmQ",
    "vmrF1",
    "ENC[",
    "WRAPPEDKEY",
    "BEGIN AGE",
];

fn assert_no_secret_material(output: &str) {
    for leak in SECRET_MATERIAL {
        assert!(
            !output.contains(leak),
            "secret material `{leak}` leaked into:\n{output}"
        );
    }
}

// ---------------------------------------------------------------- git access

#[test]
fn tree_at_reads_the_object_database_and_leaves_the_worktree_alone() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.commit("render prod");
    fx.write("out/prod/apps/web/deployment-web.yaml", "edited on disk\n");
    fx.write("out/prod/untracked.yaml", "x: 1\n");

    let repo = git::open(&fx.root).unwrap();
    let committed = git::tree_at(&repo, "HEAD", Utf8Path::new("out/prod")).unwrap();
    assert_eq!(committed, prod_v1());
    assert_eq!(
        fx.read("out/prod/apps/web/deployment-web.yaml"),
        "edited on disk\n",
        "worktree untouched"
    );

    let on_disk = git::worktree_tree(&fx.root, Utf8Path::new("out/prod")).unwrap();
    assert_eq!(
        on_disk[Utf8Path::new("apps/web/deployment-web.yaml")],
        b"edited on disk\n"
    );
    assert!(on_disk.contains_key(Utf8Path::new("untracked.yaml")));

    assert!(
        git::tree_at(&repo, "HEAD", Utf8Path::new("out/staging"))
            .unwrap()
            .is_empty()
    );
    assert!(
        git::worktree_tree(&fx.root, Utf8Path::new("out/staging"))
            .unwrap()
            .is_empty()
    );
    let err = git::tree_at(&repo, "no-such-branch", Utf8Path::new("out/prod")).unwrap_err();
    assert!(matches!(err, git::GitError::Revision { .. }), "{err:?}");
}

#[test]
fn tree_at_works_from_a_project_in_a_subfolder() {
    let fx = Fixture::new();
    fx.write("deploy/out/prod/a.yaml", "a: 1\n");
    fx.commit("project in a subfolder");
    let repo = git::open(&fx.root.join("deploy")).unwrap();
    assert_eq!(repo.prefix(), "deploy");
    let t = git::tree_at(&repo, "HEAD", Utf8Path::new("out/prod")).unwrap();
    assert_eq!(t, tree(&[("a.yaml", "a: 1\n")]));
}

// ---------------------------------------------------------------- hydrate diff

#[test]
fn diff_against_head_reports_differences_with_exit_1() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.commit("render prod");
    let args = DiffArgs {
        envs: envs(&["prod"]),
        base: Some("HEAD".into()),
        ..Default::default()
    };

    let out = diff_run(
        &fx.root,
        &args,
        &envs(&["prod"]),
        renderer(vec![("prod", prod_v2())]),
    )
    .unwrap();
    assert_eq!(out.exit_code, 1);
    assert!(
        out.stdout
            .starts_with("== prod: 1 added, 5 changed, 1 removed objects; 1 file changed\n"),
        "{}",
        out.stdout
    );
    assert_no_secret_material(&out.stdout);

    let same = diff_run(
        &fx.root,
        &args,
        &envs(&["prod"]),
        renderer(vec![("prod", prod_v1())]),
    )
    .unwrap();
    assert_eq!(same.exit_code, 0);
    assert_eq!(same.stdout, "== prod: no differences\n");
}

#[test]
fn diff_against_a_branch_reads_that_branch() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.commit("render prod v1");
    fx.branch("release");
    fx.write_out("prod", &prod_v2());
    fx.commit("render prod v2");

    let args = |base: &str| DiffArgs {
        envs: envs(&["prod"]),
        base: Some(base.into()),
        ..Default::default()
    };
    let vs_branch = diff_run(
        &fx.root,
        &args("release"),
        &[],
        renderer(vec![("prod", prod_v2())]),
    )
    .unwrap();
    assert_eq!(vs_branch.exit_code, 1, "release still has v1");
    let vs_head = diff_run(&fx.root, &args("main"), &[], renderer(vec![("prod", prod_v2())])).unwrap();
    assert_eq!(vs_head.exit_code, 0, "main has v2:\n{}", vs_head.stdout);
}

#[test]
fn diff_without_base_compares_with_the_working_tree() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.commit("render prod v1");
    fx.write_out("prod", &prod_v2()); // built, not committed
    let args = DiffArgs {
        envs: envs(&["prod"]),
        ..Default::default()
    };
    let out = diff_run(&fx.root, &args, &[], renderer(vec![("prod", prod_v2())])).unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.stdout);
}

#[test]
fn diff_errors_are_errors_not_differences() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.commit("render prod");
    let args = DiffArgs {
        envs: envs(&["prod"]),
        base: Some("origin/main".into()),
        ..Default::default()
    };
    let err = diff_run(&fx.root, &args, &[], renderer(vec![("prod", prod_v1())])).unwrap_err();
    assert!(
        matches!(err, DiffError::Git(git::GitError::Revision { .. })),
        "{err:?}"
    );
}

#[test]
fn diff_all_includes_out_folders_without_an_environment() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.write_out(
        "qa",
        &tree(&[("apps/web/deployment-web.yaml", &deployment("web", "a:1", 1))]),
    );
    fx.commit("render");
    let args = DiffArgs {
        all: true,
        base: Some("HEAD".into()),
        format: Format::Json,
        ..Default::default()
    };
    let out = diff_run(
        &fx.root,
        &args,
        &envs(&["prod"]),
        renderer(vec![("prod", prod_v1())]),
    )
    .unwrap();
    assert_eq!(out.exit_code, 1);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let qa = &json["environments"][1];
    assert_eq!(qa["env"], "qa");
    assert_eq!(qa["removed"], 1);
    assert_eq!(json["environments"][0]["differences"], false);
}

#[test]
fn changes_are_grouped_by_object_layer_and_component() {
    let r = diff::diff(&prod_v1(), &prod_v2());
    let got: Vec<(Status, String, String)> = r
        .objects
        .iter()
        .map(|o| {
            (
                o.status,
                format!("{}/{}", o.layer, o.component.clone().unwrap_or_default()),
                o.object.to_string(),
            )
        })
        .collect();
    let want = [
        (
            Status::Changed,
            "infra/cert-manager",
            "HelmRelease/cert-manager/cert-manager",
        ),
        (Status::Changed, "data/postgres", "Secret/data/db-credentials"),
        (Status::Changed, "data/postgres", "StatefulSet/data/postgres"),
        (Status::Changed, "apps/crm", "Secret/apps/crm-db"),
        (Status::Removed, "apps/legacy", "ConfigMap/apps/legacy"),
        (Status::Changed, "apps/web", "Deployment/apps/web"),
        (Status::Added, "apps/web", "Service/apps/web"),
    ];
    let want: Vec<(Status, String, String)> = want
        .iter()
        .map(|(s, p, o)| (*s, p.to_string(), o.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(r.files.len(), 1);
    assert_eq!(r.files[0].path, "apps/web/kustomization.yaml");

    let rows: Vec<(String, usize, usize, usize)> = r
        .summary()
        .into_iter()
        .map(|s| {
            (
                format!("{}/{}", s.layer, s.component.unwrap_or_default()),
                s.added,
                s.changed,
                s.removed,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("infra/cert-manager".to_string(), 0, 1, 0),
            ("data/postgres".to_string(), 0, 2, 0),
            ("apps/crm".to_string(), 0, 1, 0),
            ("apps/legacy".to_string(), 0, 0, 1),
            ("apps/web".to_string(), 1, 1, 0),
        ]
    );

    let hr = &r.objects[0];
    assert_eq!(hr.charts.len(), 1);
    assert_eq!(
        (hr.charts[0].old.as_deref(), hr.charts[0].new.as_deref()),
        (Some("v1.14.5"), Some("v1.15.1"))
    );
    assert_eq!(
        hr.images[0].new.as_deref(),
        Some("quay.io/jetstack/cert-manager-controller:v1.15.1")
    );
    let web = &r.objects[5];
    assert_eq!(web.images[0].path, "spec.template.spec.containers[web].image");
    assert!(
        web.diff.contains("-  replicas: 2\n+  replicas: 3\n"),
        "{}",
        web.diff
    );
}

#[test]
fn an_object_that_moves_component_is_one_change_not_two() {
    let old = tree(&[("apps/a/configmap-x.yaml", &configmap("x", "1"))]);
    let new = tree(&[("apps/b/configmap-x.yaml", &configmap("x", "1"))]);
    let r = diff::diff(&old, &new);
    assert_eq!(r.objects.len(), 1);
    assert_eq!(r.objects[0].status, Status::Changed);
    assert_eq!(
        r.objects[0].old_path.as_deref(),
        Some(Utf8Path::new("apps/a/configmap-x.yaml"))
    );
}

// ---------------------------------------------------------------- secrets

#[test]
fn a_secret_value_change_shows_no_value_in_any_format() {
    let r = diff::diff(&prod_v1(), &prod_v2());
    let crm = r.objects.iter().find(|o| o.object.name == "crm-db").unwrap();
    let keys: Vec<(&str, KeyStatus)> = crm
        .secret
        .as_ref()
        .unwrap()
        .keys
        .iter()
        .map(|k| (k.key.as_str(), k.status))
        .collect();
    assert_eq!(
        keys,
        [
            ("data.password", KeyStatus::Changed),
            ("data.username", KeyStatus::Unchanged)
        ]
    );
    assert!(
        crm.diff.is_empty(),
        "only values changed, so no text diff: {}",
        crm.diff
    );

    let reports = vec![("prod".to_string(), r)];
    let text = diff::format_text(&reports[0].1, "prod");
    assert!(
        text.contains("Secret/apps/crm-db: data.password changed; data.username unchanged"),
        "{text}"
    );
    for out in [
        text,
        diff::format_markdown(&reports, diff::MARKDOWN_CAP),
        diff::format_json(&reports),
    ] {
        assert_no_secret_material(&out);
    }
}

#[test]
fn a_new_secret_shows_keys_but_no_values() {
    let new = tree(&[("apps/crm/secret-crm-db.yaml", &plain_secret("c2VjcmV0"))]);
    let r = diff::diff(&Tree::new(), &new);
    let o = &r.objects[0];
    assert_eq!(o.status, Status::Added);
    assert!(o.diff.contains("password: <redacted>"), "{}", o.diff);
    assert!(
        !o.diff.contains("c2VjcmV0") && !o.diff.contains("Y3Jt"),
        "{}",
        o.diff
    );
}

#[test]
fn a_rewrapped_sops_secret_reads_as_reencrypted_values_unchanged() {
    let r = diff::diff(&prod_v1(), &prod_v2());
    let db = r
        .objects
        .iter()
        .find(|o| o.object.name == "db-credentials")
        .unwrap();
    let sc = db.secret.as_ref().unwrap();
    assert!(sc.encrypted && sc.reencrypted);
    assert_eq!(sc.recipients_added, ["age1bob"]);
    let text = diff::format_text(&r, "prod");
    assert!(
        text.contains("Secret/data/db-credentials: re-encrypted, values unchanged; recipients added: age1bob; recipients removed: age1alice"),
        "{text}"
    );
    assert_no_secret_material(&text);
}

#[test]
fn the_upstream_sops_fixture_never_leaks() {
    let Some(path) = crate::support::shared("fixtures/sops/age.enc.yaml") else {
        return;
    };
    let text = fs_err::read_to_string(&path).expect("the fixture is readable");
    let edited = text.replace(
        "lastmodified: \"2024-11-12T13:33:42Z\"",
        "lastmodified: \"2025-01-01T00:00:00Z\"",
    );
    let old = tree(&[("apps/x/age.sops.yaml", &text)]);
    let new = tree(&[("apps/x/age.sops.yaml", &edited)]);
    let r = diff::diff(&old, &new);
    let reports = vec![("prod".to_string(), r)];
    let json = diff::format_json(&reports);
    assert!(json.contains("\"reencrypted\": true"), "{json}");
    let outputs = [
        diff::format_text(&reports[0].1, "prod"),
        diff::format_markdown(&reports, 65_000),
        json,
    ];
    for (i, out) in outputs.iter().enumerate() {
        assert!(i == 2 || out.contains("re-encrypted, values unchanged"), "{out}");
        for leak in ["mHeXsmQ", "ENC[", "YWdlLWVuY3J5cHRpb24", "vmrF+VgW"] {
            assert!(!out.contains(leak), "`{leak}` leaked:\n{out}");
        }
    }
}

#[test]
fn an_unreadable_secret_file_is_never_shown() {
    let old = tree(&[(
        "apps/x/broken.sops.yaml",
        "kind: Secret\ndata: {password: aHVudGVyMg==\n",
    )]);
    let new = tree(&[(
        "apps/x/broken.sops.yaml",
        "kind: Secret\ndata: {password: c3dvcmRmaXNo\n",
    )]);
    let r = diff::diff(&old, &new);
    assert!(r.files[0].redacted);
    let text = diff::format_text(&r, "prod");
    assert!(
        !text.contains("aHVudGVyMg") && !text.contains("c3dvcmRmaXNo"),
        "{text}"
    );
}

// ---------------------------------------------------------------- immutable fields

#[test]
fn an_immutable_field_change_is_flagged_with_what_flux_will_do() {
    let r = diff::diff(&prod_v1(), &prod_v2());
    let sts = r.objects.iter().find(|o| o.object.kind == "StatefulSet").unwrap();
    assert_eq!(sts.immutable.len(), 1);
    assert_eq!(sts.immutable[0].field, "spec.volumeClaimTemplates");
    assert!(sts.immutable[0].note.contains("--cascade=orphan"));
    let web = r
        .objects
        .iter()
        .find(|o| o.object.name == "web" && o.object.kind == "Deployment")
        .unwrap();
    assert!(web.immutable.is_empty(), "replicas and image are mutable");
    let text = diff::format_text(&r, "prod");
    assert!(
        text.contains(
            "StatefulSet/data/postgres: spec.volumeClaimTemplates changed. Flux will fail to apply it"
        ),
        "{text}"
    );

    let job = |img: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: apps\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: m\n          image: {img}\n"
        )
    };
    let r = diff::diff(
        &tree(&[("apps/a/job-migrate.yaml", &job("m:1"))]),
        &tree(&[("apps/a/job-migrate.yaml", &job("m:2"))]),
    );
    assert_eq!(r.objects[0].immutable[0].field, "spec.template");
    assert!(r.objects[0].immutable[0].note.contains("force: true"));
}

// ---------------------------------------------------------------- formats

#[test]
fn markdown_golden() {
    let reports = vec![
        ("prod".to_string(), diff::diff(&prod_v1(), &prod_v2())),
        ("dev".to_string(), Report::default()),
    ];
    insta::assert_snapshot!(diff::format_markdown(&reports, diff::MARKDOWN_CAP));
}

#[test]
fn text_golden() {
    insta::assert_snapshot!(diff::format_text(&diff::diff(&prod_v1(), &prod_v2()), "prod"));
}

#[test]
fn markdown_is_capped_with_a_note_of_what_was_cut() {
    let big: String = (0..3_000)
        .map(|i| format!("  key{i}: value-{i}-{}\n", "x".repeat(20)))
        .collect();
    let cm = |name: &str, body: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n{body}"
        )
    };
    let new = tree(&[
        ("apps/a/configmap-huge.yaml", &cm("huge", &big)),
        ("apps/b/configmap-small.yaml", &cm("small", "  k: v\n")),
    ]);
    let reports = vec![("prod".to_string(), diff::diff(&Tree::new(), &new))];
    let cap = 20_000;
    let md = diff::format_markdown(&reports, cap);
    assert!(md.chars().count() <= cap, "{} characters", md.chars().count());
    assert!(md.starts_with(diff::MARKER));
    assert!(md.contains("| `apps` | `a` | 1 | 0 | 0 |"), "summary kept:\n{md}");
    assert!(
        md.contains("`ConfigMap` `apps/small`"),
        "the small diff still fits:\n{md}"
    );
    assert!(
        md.contains("1 of 2 diffs not shown: `prod: ConfigMap/apps/huge`"),
        "{md}"
    );

    let tiny = diff::format_markdown(&reports, 2_000);
    assert!(tiny.chars().count() <= 2_000);
}

#[test]
fn json_has_a_stable_field_order() {
    let reports = vec![("prod".to_string(), diff::diff(&prod_v1(), &prod_v2()))];
    let json = diff::format_json(&reports);
    assert_eq!(json, diff::format_json(&reports), "deterministic");
    let env_keys: Vec<String> = serde_json::from_str::<serde_json::Value>(&json).unwrap()["environments"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        env_keys,
        [
            "env",
            "differences",
            "added",
            "changed",
            "removed",
            "files_changed",
            "summary",
            "objects",
            "files"
        ]
    );
    assert!(json.contains("\"status\": \"changed\""));
    assert_no_secret_material(&json);
}

#[derive(Parser)]
struct DiffCli {
    #[command(flatten)]
    args: DiffArgs,
}

#[test]
fn diff_arguments_parse() {
    let cli = DiffCli::try_parse_from([
        "hydrate",
        "prod",
        "dev",
        "--base",
        "origin/main",
        "--format",
        "markdown",
    ])
    .unwrap();
    assert_eq!(cli.args.envs, ["prod", "dev"]);
    assert_eq!(cli.args.base.as_deref(), Some("origin/main"));
    assert_eq!(cli.args.format, Format::Markdown);
    assert!(DiffCli::try_parse_from(["hydrate", "--all"]).unwrap().args.all);
    // A bare `diff` parses; the command then says to name an environment or pass `--all`
    // (with the known ones), as `build` does, instead of clap's usage line without `--all`.
    assert!(DiffCli::try_parse_from(["hydrate"]).unwrap().args.envs.is_empty());
    assert!(
        DiffCli::try_parse_from(["hydrate", "prod", "--worktree"])
            .unwrap()
            .args
            .worktree
    );
    assert!(DiffCli::try_parse_from(["hydrate", "prod", "--worktree", "--base", "x"]).is_err());
    assert!(DiffCli::try_parse_from(["hydrate", "--all", "prod"]).is_err());
}

// ---------------------------------------------------------------- hydrate check

#[test]
fn check_passes_on_a_fresh_out_and_fails_on_a_stale_one() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.write_out(
        "dev",
        &tree(&[("apps/web/deployment-web.yaml", &deployment("web", "a:1", 1))]),
    );
    fx.commit("render");
    let known = envs(&["dev", "prod"]);
    let dev_tree = tree(&[("apps/web/deployment-web.yaml", &deployment("web", "a:1", 1))]);

    let fresh = check_run(
        &fx.root,
        &CheckArgs::default(),
        &known,
        renderer(vec![("prod", prod_v1()), ("dev", dev_tree.clone())]),
    )
    .unwrap();
    assert_eq!(fresh.exit_code, 0, "{}", fresh.stdout);
    assert!(!fresh.stdout.contains("fix:"));

    let stale = check_run(
        &fx.root,
        &CheckArgs::default(),
        &known,
        renderer(vec![("prod", prod_v2()), ("dev", dev_tree)]),
    )
    .unwrap();
    assert_eq!(stale.exit_code, 1);
    let s = &stale.stdout;
    assert!(s.contains("ok     `out/dev`"), "{s}");
    assert!(
        s.contains(
            "STALE  `out/prod` differs from a fresh render (committed at `HEAD`): 6 stale, 1 missing, 1 extra"
        ),
        "{s}"
    );
    assert!(
        s.contains("  stale    out/prod/apps/web/deployment-web.yaml\n"),
        "{s}"
    );
    assert!(
        s.contains("  missing  out/prod/apps/web/service-web.yaml\n"),
        "{s}"
    );
    assert!(
        s.contains("  extra    out/prod/apps/legacy/configmap-legacy.yaml\n"),
        "{s}"
    );
    assert!(s.trim_end().ends_with("fix: run `hydrate build prod` (from a source checkout: `cargo run -- build prod`), then commit `out/`: `git add out/ && git commit`"), "{s}");
}

#[test]
fn check_reads_head_not_the_working_tree_unless_asked() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.commit("render v1");
    fx.write_out("prod", &prod_v2()); // rebuilt but not committed
    let known = envs(&["prod"]);
    let head = check_run(
        &fx.root,
        &CheckArgs::default(),
        &known,
        renderer(vec![("prod", prod_v2())]),
    )
    .unwrap();
    assert_eq!(head.exit_code, 1, "HEAD still has v1");
    let args = CheckArgs {
        worktree: true,
        ..Default::default()
    };
    let disk = check_run(&fx.root, &args, &known, renderer(vec![("prod", prod_v2())])).unwrap();
    assert_eq!(disk.exit_code, 0, "{}", disk.stdout);
}

#[test]
fn check_flags_out_folders_without_an_environment() {
    let fx = Fixture::new();
    fx.write_out("prod", &prod_v1());
    fx.write_out("qa", &tree(&[("a.yaml", "a: 1\n")]));
    fx.commit("render");
    let out = check_run(
        &fx.root,
        &CheckArgs::default(),
        &envs(&["prod"]),
        renderer(vec![("prod", prod_v1())]),
    )
    .unwrap();
    assert_eq!(out.exit_code, 1);
    assert!(out.stdout.contains("`git rm -r out/qa`"), "{}", out.stdout);
}

#[test]
fn check_without_a_commit_is_an_error() {
    let fx = Fixture::new();
    let err = check_run(
        &fx.root,
        &CheckArgs::default(),
        &envs(&["prod"]),
        renderer(vec![("prod", prod_v1())]),
    )
    .unwrap_err();
    assert!(matches!(err, DiffError::NoCommit { .. }), "{err:?}");
}

// ---------------------------------------------------------------- build --changed-since

/// A project with two environments, shared inputs, per-env secrets and a rendered `out/`.
fn project() -> Fixture {
    let fx = Fixture::new();
    fx.write("environments/dev.yaml", "name: dev\n");
    fx.write("environments/prod.yaml", "name: prod\n");
    fx.write("platform/traefik/component.yaml", "chart: traefik\n");
    fx.write("apps/web/component.yaml", "image: web\n");
    fx.write("secrets/prod/db.sops.yaml", "sops: {}\n");
    fx.write("charts/web/values-prod.yaml", "replicas: 3\n");
    fx.write("README.md", "# infra\n");
    fx.write(
        "out/prod/apps/web/deployment-web.yaml",
        "# Source: apps/web/component.yaml, charts/web/values-prod.yaml, environments/prod.yaml\nkind: Deployment\n",
    );
    fx.write(
        "out/dev/apps/web/deployment-web.yaml",
        "# Source: apps/web/component.yaml, environments/dev.yaml\nkind: Deployment\n",
    );
    fx.commit("initial");
    fx.branch("base");
    fx
}

fn changed_envs(fx: &Fixture) -> Vec<String> {
    // What the inputs use now: traefik and web in both, mailu in prod only.
    let both = ["platform/traefik", "apps/web"];
    let current: std::collections::BTreeMap<String, std::collections::BTreeSet<camino::Utf8PathBuf>> = [
        ("dev", both.to_vec()),
        ("prod", [&both[..], &["apps/mailu"]].concat()),
    ]
    .into_iter()
    .map(|(env, dirs)| (env.to_string(), dirs.into_iter().map(Into::into).collect()))
    .collect();
    git::envs_changed_since(&fx.root, "base", &envs(&["dev", "prod"]), &current)
        .unwrap()
        .into_iter()
        .collect()
}

#[test]
fn changed_since_picks_exactly_the_affected_environments() {
    let fx = project();
    assert!(changed_envs(&fx).is_empty(), "nothing changed yet");

    fx.write("environments/prod.yaml", "name: prod\nreplicas: 2\n"); // unstaged edit
    assert_eq!(changed_envs(&fx), ["prod"]);
    fx.commit("tune prod");
    assert_eq!(changed_envs(&fx), ["prod"], "committed since base");

    let fx = project();
    fx.write("secrets/dev/new.sops.yaml", "sops: {}\n"); // untracked
    assert_eq!(changed_envs(&fx), ["dev"]);

    let fx = project();
    fx.write("platform/traefik/component.yaml", "chart: traefik\nversion: 2\n");
    assert_eq!(changed_envs(&fx), ["dev", "prod"]);

    let fx = project();
    fx.write("apps/mailu/component.yaml", "chart: mailu\n"); // a component only prod uses
    assert_eq!(changed_envs(&fx), ["prod"]);

    let fx = project();
    fx.write(".sops.yaml", "creation_rules: []\n"); // recipients: every environment re-lints
    assert_eq!(changed_envs(&fx), ["dev", "prod"]);

    let fx = project();
    fx.write("charts/web/values-prod.yaml", "replicas: 4\n"); // included by prod only
    assert_eq!(changed_envs(&fx), ["prod"]);

    let fx = project();
    fx.write("README.md", "# infra, documented\n");
    fx.write("out/dev/apps/web/deployment-web.yaml", "hand edit\n");
    assert!(changed_envs(&fx).is_empty(), "docs and outputs are not inputs");

    let fx = project();
    fx.remove("apps/web/component.yaml");
    fx.commit("drop web");
    assert_eq!(changed_envs(&fx), ["dev", "prod"], "a deletion counts");
}

#[test]
fn changed_since_lists_committed_staged_and_untracked_paths() {
    let fx = project();
    fx.write("apps/web/component.yaml", "image: web:2\n");
    fx.commit("bump web");
    fx.write("environments/dev.yaml", "name: dev\nx: 1\n");
    fx.write("lib/new.libsonnet", "{}\n");
    let repo = git::open(&fx.root).unwrap();
    let got = git::changed_since(&repo, "base").unwrap();
    let want: BTreeSet<Utf8PathBuf> = [
        "apps/web/component.yaml",
        "environments/dev.yaml",
        "lib/new.libsonnet",
    ]
    .iter()
    .map(Utf8PathBuf::from)
    .collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------- workflows

/// Every `uses:` in a workflow, at any depth.
fn uses_of(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("uses", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => uses_of(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| uses_of(v, out)),
        _ => {}
    }
}

#[test]
fn workflows_are_valid_yaml_and_pin_maintained_actions_by_version() {
    const MAINTAINED: &[&str] = &[
        "actions/checkout",
        "actions/github-script",
        "dtolnay/rust-toolchain",
        "Swatinem/rust-cache",
    ];
    let dir = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    for name in ["ci.yml", "pr-diff.yml"] {
        let text = fs_err::read_to_string(dir.join(name)).unwrap();
        let wf: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            wf.get("on").is_some() && wf.get("jobs").is_some(),
            "{name}: no `on` or `jobs`"
        );
        let mut uses = Vec::new();
        uses_of(&wf, &mut uses);
        assert!(!uses.is_empty(), "{name}");
        for u in uses {
            let (action, version) = u
                .split_once('@')
                .unwrap_or_else(|| panic!("{name}: `{u}` is not pinned"));
            assert!(
                MAINTAINED.contains(&action),
                "{name}: `{action}` is not on the maintained list"
            );
            let v = version.trim_start_matches('v');
            assert!(
                v.split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())),
                "{name}: `{u}` is not pinned to a version"
            );
        }
    }
    let pr = fs_err::read_to_string(dir.join("pr-diff.yml")).unwrap();
    assert!(
        pr.contains("--format markdown") && pr.contains(diff::MARKER),
        "pr-diff.yml finds its comment by the marker"
    );
}
