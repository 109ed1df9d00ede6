//! `hydrate lock` against real Helm index files served from 127.0.0.1, `file://`, an index
//! mirror, and a small in-test OCI registry.
//!
//! The index files come from `../shared/fixtures/helm-index/` (or `$HYDRATE_SHARED`); tests that
//! need them skip with a printed reason when they are absent. Nothing is copied into the repo.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use hydrate::lock::{
    BitnamiKind, ChartRequest, LockError, Options, Outcome, Problem, Silent, parse_index, read_lock,
};
use sha2::{Digest, Sha256};

/// `hydrate::lock::lock` without progress reporting.
#[allow(clippy::result_large_err)] // reason: the library's own error type, as returned
fn lock(root: &Utf8Path, options: &Options, requests: &[ChartRequest]) -> Result<Outcome, LockError> {
    hydrate::lock::lock(root, options, requests, &Silent)
}

// ---------------------------------------------------------------- fixtures

/// The shared fixtures folder, or `None` (with the reason printed) when it is absent.
fn fixtures() -> Option<Utf8PathBuf> {
    crate::support::shared("fixtures/helm-index/cloudnative-pg.index.yaml")
        .and_then(|file| file.parent().map(Utf8Path::to_path_buf))
}

fn fixture(dir: &Utf8Path, name: &str) -> String {
    fs_err::read_to_string(dir.join(format!("{name}.index.yaml"))).expect("fixture readable")
}

/// The digest the index publishes for the first entry of `chart` at `version`.
fn index_digest(text: &str, chart: &str, version: &str) -> String {
    let index = parse_index(text).expect("fixture parses");
    index.charts[chart]
        .iter()
        .find(|v| v.version == version)
        .and_then(|v| v.digest.clone())
        .expect("version has a digest")
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn request(component: &str, repo: &str, chart: &str, constraint: &str) -> ChartRequest {
    ChartRequest {
        component: component.to_owned(),
        env: None,
        repo: repo.to_owned(),
        chart: chart.to_owned(),
        constraint: constraint.to_owned(),
    }
}

fn temp_root() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_path_buf()).expect("utf-8 temp path");
    (dir, root)
}

fn args() -> Options {
    Options {
        timeout: 10,
        plain_http: true,
        ..Options::default()
    }
}

fn entry<'a>(outcome: &'a Outcome, chart: &str, constraint: &str) -> &'a hydrate::lock::LockEntry {
    outcome
        .lock
        .entries
        .iter()
        .find(|e| e.chart == chart && e.constraint == constraint)
        .unwrap_or_else(|| panic!("no entry for {chart} {constraint}"))
}

// ---------------------------------------------------------------- a tiny HTTP server

/// One parsed request.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
}

/// One response.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// An HTTP/1.1 server on 127.0.0.1:0 in a thread; it stops when dropped or after 120 s.
struct Server {
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (handler, log) = (handler.clone(), log2.clone());
                        std::thread::spawn(move || serve(stream, &handler, &log));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            base,
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `METHOD path` of every request so far.
    fn requests(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    fn count(&self, line: &str) -> usize {
        self.requests().iter().filter(|r| *r == line).count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<String>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut parts = first.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return;
    };
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let req = Req {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
    };
    log.lock()
        .expect("log lock")
        .push(format!("{} {}", req.method, req.path));
    let resp = handler(&req);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    if req.method != "HEAD" {
        let _ = out.write_all(&resp.body);
    }
    let _ = out.flush();
}

/// Serves `path prefix → index text` as `<prefix>/index.yaml`.
fn index_server(indexes: Vec<(&'static str, String)>) -> Server {
    Server::start(move |req| {
        for (prefix, text) in &indexes {
            if req.path == format!("{prefix}/index.yaml") {
                return Resp::ok(text.clone());
            }
        }
        Resp::status(404)
    })
}

// ---------------------------------------------------------------- HTTP repositories

#[test]
fn resolves_constraints_against_served_indexes() {
    let Some(dir) = fixtures() else { return };
    let texts: Vec<(&str, String)> = vec![
        ("/cnpg", fixture(&dir, "cloudnative-pg")),
        ("/edns", fixture(&dir, "external-dns")),
        ("/mailu", fixture(&dir, "mailu")),
        ("/nextcloud", fixture(&dir, "nextcloud")),
        ("/velero", fixture(&dir, "vmware-tanzu")),
        ("/zot", fixture(&dir, "zot")),
    ];
    let server = index_server(texts.clone());
    let repo = |p: &str| server.url(p);
    let requests = vec![
        request("cnpg", &repo("/cnpg"), "cloudnative-pg", "~0.23"),
        request("cnpg-rc", &repo("/cnpg"), "cloudnative-pg", "0.23.0-rc1"),
        request("cnpg-old", &repo("/cnpg/"), "cloudnative-pg", "0.20.1"),
        request("db", &repo("/cnpg"), "cluster", "*"),
        request("dns", &repo("/edns/"), "external-dns", "^1.20"),
        request("mail", &repo("/mailu/"), "mailu", "^1.0"),
        request(
            "mail-beta",
            &repo("/mailu"),
            "mailu",
            ">=1.0.0-beta.1, <=1.0.0-beta.99",
        ),
        request("cloud", &repo("/nextcloud"), "nextcloud", "~9.2"),
        request("velero", &repo("/velero"), "velero", ">=12, <13"),
        request("velero-old", &repo("/velero"), "velero", ">=11 <12"),
        request("zot", &repo("/zot"), "zot", "~0.1"),
        request("zot-old", &repo("/zot"), "zot", "<0.1.100"),
    ];
    let (_tmp, root) = temp_root();
    let outcome = lock(&root, &args(), &requests).expect("locks");
    assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
    assert!(outcome.written);

    let version = |chart: &str, c: &str| entry(&outcome, chart, c).version.clone();
    // The highest matching release, by semver, never by string order or file order.
    assert_eq!(version("cloudnative-pg", "~0.23"), "0.23.2");
    assert_eq!(version("cluster", "*"), "0.8.1");
    assert_eq!(version("external-dns", "^1.20"), "1.21.1");
    assert_eq!(version("mailu", "^1.0"), "1.5.0", "the 1.0.0 beta is skipped");
    assert_eq!(version("nextcloud", "~9.2"), "9.2.4");
    assert_eq!(version("velero", ">=12, <13"), "12.1.0");
    assert_eq!(version("velero", ">=11 <12"), "11.4.0");
    assert_eq!(version("zot", "~0.1"), "0.1.122");
    assert_eq!(version("zot", "<0.1.100"), "0.1.99");
    // Pre-releases count only when the constraint names one.
    assert_eq!(
        version("mailu", ">=1.0.0-beta.1, <=1.0.0-beta.99"),
        "1.0.0-beta.32"
    );

    // Digests are the index's (known values, and the parsed fixture for the rest).
    let digest = |chart: &str, c: &str| entry(&outcome, chart, c).digest.clone().expect("digest");
    assert_eq!(
        digest("velero", ">=12, <13"),
        "sha256:cd23589ad1b2d25cdd3220f6866b3f6f4c5683c4c09494e76a14700b33f81f83"
    );
    assert_eq!(
        digest("external-dns", "^1.20"),
        "sha256:5dd033a4b872bf641860695705ee460031d0bc695f114bf8926fee6736814e19"
    );
    assert_eq!(
        digest("zot", "~0.1"),
        "sha256:7e729efdfdca0c8848258bcf862cc3112c874af080f85aea8e6ff4b3f8cc8a54"
    );
    assert_eq!(
        digest("cloudnative-pg", "~0.23"),
        "sha256:940300b9c16cc98c819f248ed6f8a347bd872201da59717df580072071d7f276"
    );
    // `0.23.0-rc1` is listed twice with different digests: the first listed wins, as in Helm.
    assert_eq!(
        digest("cloudnative-pg", "0.23.0-rc1"),
        "sha256:38aa1253d2cf7d6b39e003bcfc8cac97344f03454b28e8576cdc69b9b1771ddb"
    );
    for e in &outcome.lock.entries {
        let (_, text) = texts
            .iter()
            .find(|(p, _)| e.repo == server.url(p))
            .expect("served repo");
        if e.constraint != "0.23.0-rc1" {
            let published = index_digest(text, &e.chart, &e.version);
            assert_eq!(
                e.digest.as_deref(),
                Some(published.as_str()),
                "{} {}",
                e.chart,
                e.version
            );
        }
    }

    // Absolute URLs of both styles are kept; dependencies come along.
    assert_eq!(
        entry(&outcome, "cloudnative-pg", "0.20.1").url.as_deref(),
        Some("https://cloudnative-pg.github.io/charts/cloudnative-pg-0.20.1.tgz")
    );
    let cloud = entry(&outcome, "nextcloud", "~9.2");
    let deps: Vec<(&str, Option<&str>)> = cloud
        .dependencies
        .iter()
        .map(|d| (d.name.as_str(), d.repository.as_deref()))
        .collect();
    assert_eq!(
        deps[0],
        ("postgresql", Some("oci://registry-1.docker.io/bitnamicharts"))
    );
    assert_eq!(cloud.dependencies[3].alias.as_deref(), Some("collabora"));
    assert_eq!(
        cloud.dependencies[3].condition.as_deref(),
        Some("collabora.enabled")
    );
    let cnpg = entry(&outcome, "cloudnative-pg", "~0.23");
    assert_eq!(cnpg.dependencies[0].version.as_deref(), Some("0.0"));

    // Each repository index is fetched once, however many charts it serves.
    for (prefix, _) in &texts {
        assert_eq!(server.count(&format!("GET {prefix}/index.yaml")), 1, "{prefix}");
    }
    // Trailing slashes do not make a second repository.
    assert_eq!(entry(&outcome, "external-dns", "^1.20").repo, server.url("/edns"));

    // The file is sorted and deterministic: a second run writes nothing.
    let text = fs_err::read_to_string(root.join("hydrate.lock")).expect("lock written");
    assert!(text.starts_with("# Generated by `hydrate lock`"));
    let keys: Vec<_> = outcome
        .lock
        .entries
        .iter()
        .map(|e| (e.repo.clone(), e.chart.clone(), e.constraint.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let again = lock(&root, &args(), &requests).expect("locks again");
    assert!(!again.written && again.changes.is_empty() && again.findings.is_empty());
    assert_eq!(
        fs_err::read_to_string(root.join("hydrate.lock")).expect("lock"),
        text
    );
    assert_eq!(read_lock(&root).expect("reads").expect("exists"), outcome.lock);
}

#[test]
fn lock_errors_name_chart_constraint_and_fix() {
    let Some(dir) = fixtures() else { return };
    let server = index_server(vec![("/cnpg", fixture(&dir, "cloudnative-pg"))]);
    let (_tmp, root) = temp_root();
    let err = lock(
        &root,
        &args(),
        &[
            request("a", &server.url("/cnpg"), "cloudnative-pg", "^99"),
            request("b", &server.url("/cnpg"), "cloudnative-pgg", "1.0.0"),
            request("c", &server.url("/missing"), "x", "1.0.0"),
        ],
    )
    .expect_err("nothing matches");
    let LockError::Many { errors } = &err else {
        panic!("expected several errors, got {err}")
    };
    let text: Vec<String> = errors
        .iter()
        .map(|e| {
            let help = miette::Diagnostic::help(e)
                .map(|h| h.to_string())
                .unwrap_or_default();
            format!("{e} | {help}")
        })
        .collect();
    // Every problem at once: the fetch failure first, then each key in order.
    assert_eq!(text.len(), 3, "{text:#?}");
    assert!(
        text[0].contains("cannot fetch") && text[0].contains("404"),
        "{}",
        text[0]
    );
    assert!(text[1].contains("satisfies `^99`"), "{}", text[1]);
    assert!(
        text[2].contains("`cloudnative-pgg`") && text[2].contains("did you mean `cloudnative-pg`"),
        "{}",
        text[2]
    );
    assert!(!root.join("hydrate.lock").exists(), "a failed run writes nothing");

    let err = lock(
        &root,
        &args(),
        &[request("a", &server.url("/cnpg"), "cloudnative-pg", "^99")],
    )
    .expect_err("no version");
    let help = miette::Diagnostic::help(&err).expect("help").to_string();
    assert!(
        err.to_string().contains("satisfies `^99`") && err.to_string().contains("`a`"),
        "{err}"
    );
    assert!(
        help.contains("`0.29.0`") && help.contains("pre-releases"),
        "{help}"
    );
}

#[test]
fn file_repositories_and_index_mirrors_need_no_server() {
    let Some(dir) = fixtures() else { return };
    let (_tmp, root) = temp_root();
    // `file://` folder with an `index.yaml` (a link to the shared fixture, not a copy).
    let repo_dir = root.join("charts-repo");
    fs_err::create_dir_all(&repo_dir).expect("mkdir");
    std::os::unix::fs::symlink(dir.join("external-dns.index.yaml"), repo_dir.join("index.yaml"))
        .expect("symlink");
    // A mirror of the real repository URL, for `--index-dir`.
    let mirror = root.join("mirror");
    fs_err::create_dir_all(&mirror).expect("mkdir");
    std::os::unix::fs::symlink(
        dir.join("cloudnative-pg.index.yaml"),
        mirror.join("cloudnative-pg.github.io_charts.yaml"),
    )
    .expect("symlink");

    let relative = request("dns", "file://charts-repo", "external-dns", "~1.20");
    let absolute = request(
        "dns-abs",
        &format!("file://{repo_dir}/"),
        "external-dns",
        "1.19.0",
    );
    let outcome = lock(&root, &args(), &[relative.clone(), absolute]).expect("locks");
    assert_eq!(entry(&outcome, "external-dns", "~1.20").version, "1.20.0");
    assert_eq!(
        entry(&outcome, "external-dns", "1.19.0").repo,
        format!("file://{repo_dir}")
    );

    let mut mirrored = args();
    mirrored.index_dir = Some(mirror.clone());
    let real = request(
        "pg",
        "https://cloudnative-pg.github.io/charts",
        "cloudnative-pg",
        "^0.28",
    );
    let outcome = lock(&root, &mirrored, &[real]).expect("locks from the mirror");
    let e = entry(&outcome, "cloudnative-pg", "^0.28");
    assert_eq!(e.version, "0.28.3");
    assert!(
        e.url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://github.com/cloudnative-pg/"))
    );
    // The unused `dns` entries were dropped from the lock.
    assert_eq!(outcome.lock.entries.len(), 1);

    let missing = request("x", "https://example.org/charts", "x", "1.0.0");
    let err = lock(&root, &mirrored, &[missing]).expect_err("not mirrored");
    let help = miette::Diagnostic::help(&err).expect("help").to_string();
    assert!(help.contains("example.org_charts.yaml"), "{help}");
}

// ---------------------------------------------------------------- staleness and updates

/// A synthetic index whose versions and digests the test controls.
fn small_index(versions: &[(&str, &str)]) -> String {
    let mut text = String::from("apiVersion: v1\nentries:\n  demo:\n");
    for (version, digest) in versions {
        text.push_str(&format!(
            "  - name: demo\n    version: {version}\n    digest: {digest}\n    urls:\n    - charts/demo-{version}.tgz\n"
        ));
    }
    text
}

fn hex(byte: char) -> String {
    byte.to_string().repeat(64)
}

#[test]
fn a_changed_upstream_digest_is_reported_not_taken() {
    let index = Arc::new(Mutex::new(small_index(&[("1.0.0", &hex('a'))])));
    let shared = index.clone();
    let server = Server::start(move |req| match req.path.as_str() {
        "/index.yaml" => Resp::ok(shared.lock().expect("lock").clone()),
        _ => Resp::status(404),
    });
    let (_tmp, root) = temp_root();
    let requests = [request("web", &server.url(""), "demo", "^1")];
    let first = lock(&root, &args(), &requests).expect("locks");
    let locked = first.lock.entries[0].digest.clone().expect("digest");
    assert_eq!(locked, format!("sha256:{}", hex('a')));
    assert_eq!(
        first.lock.entries[0].url.as_deref(),
        Some(format!("{}/charts/demo-1.0.0.tgz", server.url("")).as_str()),
        "relative URLs resolve against the repository"
    );

    // The publisher re-releases 1.0.0 with other bytes.
    *index.lock().expect("lock") = small_index(&[("1.0.0", &hex('b'))]);
    let second = lock(&root, &args(), &requests).expect("runs");
    assert_eq!(second.exit_code(), 1);
    assert!(
        matches!(&second.findings[..], [Problem::DigestChanged { locked: l, upstream, .. }]
            if *l == locked && *upstream == format!("sha256:{}", hex('b'))),
        "{:?}",
        second.findings
    );
    let message = second.findings[0].to_string();
    assert!(
        message.contains("digest changed upstream") && message.contains("--update web"),
        "{message}"
    );
    assert_eq!(
        second.lock.entries[0].digest.as_deref(),
        Some(locked.as_str()),
        "old bytes kept"
    );

    let mut check = args();
    check.check = true;
    let checked = lock(&root, &check, &requests).expect("checks");
    assert!(matches!(&checked.findings[..], [Problem::DigestChanged { .. }]));

    // `--update web` accepts the new bytes, with a warning.
    let mut update = args();
    update.update = Some(vec!["web".to_owned()]);
    let third = lock(&root, &update, &requests).expect("updates");
    assert!(third.findings.is_empty());
    assert_eq!(third.warnings.len(), 1, "{:?}", third.warnings);
    assert_eq!(
        third.lock.entries[0].digest.as_deref(),
        Some(format!("sha256:{}", hex('b')).as_str())
    );

    // A version that disappears is reported too.
    *index.lock().expect("lock") = small_index(&[("1.0.1", &hex('c'))]);
    let fourth = lock(&root, &args(), &requests).expect("runs");
    assert!(
        matches!(&fourth.findings[..], [Problem::VersionGone { .. }]),
        "{:?}",
        fourth.findings
    );
    assert_eq!(fourth.lock.entries[0].version, "1.0.0");
}

#[test]
fn update_moves_only_the_named_components() {
    let index = Arc::new(Mutex::new(small_index(&[
        ("1.0.0", &hex('a')),
        ("1.1.0", &hex('b')),
    ])));
    let shared = index.clone();
    let server = Server::start(move |req| match req.path.as_str() {
        "/index.yaml" => Resp::ok(shared.lock().expect("lock").clone()),
        _ => Resp::status(404),
    });
    let (_tmp, root) = temp_root();
    let repo = server.url("");
    let mut prod = request("api", &repo, "demo", "~1");
    prod.env = Some("prod".to_owned());
    let requests = [
        request("web", &repo, "demo", "^1"),
        request("api", &repo, "demo", "^1.0"),
        prod,
    ];
    let first = lock(&root, &args(), &requests).expect("locks");
    assert!(first.lock.entries.iter().all(|e| e.version == "1.1.0"));
    let api = entry(&first, "demo", "^1.0");
    assert_eq!(api.components, ["api"]);
    assert_eq!(
        entry(&first, "demo", "~1").components,
        ["api@prod"],
        "overrides get their own entry"
    );

    *index.lock().expect("lock") = small_index(&[
        ("1.0.0", &hex('a')),
        ("1.1.0", &hex('b')),
        ("1.2.0", &hex('c')),
        ("2.0.0", &hex('d')),
    ]);
    let plain = lock(&root, &args(), &requests).expect("locks");
    assert!(
        plain.changes.is_empty(),
        "nothing moves without --update: {:?}",
        plain.changes
    );

    let mut update = args();
    update.update = Some(vec!["api".to_owned()]);
    let moved = lock(&root, &update, &requests).expect("updates");
    assert_eq!(entry(&moved, "demo", "^1").version, "1.1.0", "web stays");
    assert_eq!(entry(&moved, "demo", "^1.0").version, "1.2.0");
    assert_eq!(
        entry(&moved, "demo", "~1").version,
        "1.2.0",
        "all environments of api move"
    );
    assert_eq!(moved.changes.len(), 2, "{:?}", moved.changes);

    update.update = Some(vec![]);
    let all = lock(&root, &update, &requests).expect("updates all");
    assert_eq!(entry(&all, "demo", "^1").version, "1.2.0");
}

#[test]
fn check_reports_missing_and_stale_entries() {
    let server = Server::start(|req| match req.path.as_str() {
        "/index.yaml" => Resp::ok(small_index(&[("1.0.0", &hex('a')), ("1.4.2", &hex('b'))])),
        _ => Resp::status(404),
    });
    let (_tmp, root) = temp_root();
    let repo = server.url("");
    let mut check = args();
    check.check = true;
    let requests = [request("web", &repo, "demo", "~1.4")];

    let missing = lock(&root, &check, &requests).expect("checks");
    assert_eq!(missing.exit_code(), 1);
    assert!(matches!(&missing.findings[..], [Problem::Missing { .. }]));
    assert!(missing.findings[0].to_string().contains("run `hydrate lock`"));
    assert!(!root.join("hydrate.lock").exists(), "--check writes nothing");

    lock(&root, &args(), &requests).expect("locks");
    assert_eq!(lock(&root, &check, &requests).expect("checks").exit_code(), 0);
    check.offline = true;
    assert_eq!(lock(&root, &check, &requests).expect("checks").exit_code(), 0);

    // The constraint was edited: the old entry is unused and the new one missing.
    let edited = [request("web", &repo, "demo", "~1.0")];
    let stale = lock(&root, &check, &edited).expect("checks");
    assert!(
        matches!(
            &stale.findings[..],
            [Problem::Missing { .. }, Problem::Unused { .. }]
        ),
        "{:?}",
        stale.findings
    );
    // Another component now shares the entry.
    let shared = [
        request("web", &repo, "demo", "~1.4"),
        request("api", &repo, "demo", "~1.4"),
    ];
    let changed = lock(&root, &check, &shared).expect("checks");
    assert!(matches!(
        &changed.findings[..],
        [Problem::ComponentsChanged { .. }]
    ));

    // A hand-edited version outside the constraint.
    let path = root.join("hydrate.lock");
    let text = fs_err::read_to_string(&path).expect("lock");
    let edited = text.replace("version: \"1.4.2\"", "version: \"1.0.0\"");
    assert_ne!(edited, text, "the test edits the locked version");
    let text = edited;
    fs_err::write(&path, text).expect("edit");
    let edited = lock(&root, &check, &requests).expect("checks");
    assert!(
        matches!(&edited.findings[..], [Problem::Unsatisfied { .. }]),
        "{:?}",
        edited.findings
    );
}

#[test]
fn build_with_a_stale_lock_fails_naming_the_component() {
    let server = Server::start(|req| match req.path.as_str() {
        "/index.yaml" => Resp::ok(small_index(&[("1.0.0", &hex('a')), ("1.4.2", &hex('b'))])),
        _ => Resp::status(404),
    });
    let (_tmp, root) = temp_root();
    let repo = server.url("");
    lock(&root, &args(), &[request("web", &repo, "demo", "~1.4")]).expect("locks");
    drop(server); // `build` needs no network.

    let lock_file = read_lock(&root).expect("reads").expect("exists");
    let pinned = lock_file
        .pin(&request("web", &repo, "demo", "~1.4"))
        .expect("pins");
    assert_eq!(pinned.version, "1.4.2");
    assert_eq!(pinned.digest, Some(format!("sha256:{}", hex('b'))));
    let exact = lock_file
        .pin(&request("web", &repo, "demo", "1.0.0"))
        .expect("exact");
    assert_eq!((exact.version.as_str(), exact.digest), ("1.0.0", None));

    let mut env = request("web", &repo, "demo", "~1.0");
    env.env = Some("prod".to_owned());
    let err = lock_file.pin(&env).expect_err("missing");
    assert_eq!(
        err.to_string(),
        "component `web@prod` asks for chart `demo` `~1.0`, and `hydrate.lock` has no entry for it"
    );
    let err = lock_file
        .pin(&request("web", &repo, "demo", "~1.0"))
        .expect_err("stale");
    assert_eq!(
        err.to_string(),
        "component `web` asks for chart `demo` `~1.0`, but `hydrate.lock` pins `1.4.2` (locked for `~1.4`)"
    );
    let help = miette::Diagnostic::help(&err).expect("help").to_string();
    assert!(help.contains("run `hydrate lock`"), "{help}");
}

#[test]
fn timeouts_and_server_errors_are_clear() {
    let server = Server::start(|req| {
        if req.path == "/slow/index.yaml" {
            std::thread::sleep(Duration::from_secs(3));
        }
        Resp::status(500)
    });
    let (_tmp, root) = temp_root();
    let mut quick = args();
    quick.timeout = 1;
    let err =
        lock(&root, &quick, &[request("a", &server.url("/slow"), "x", "1.0.0")]).expect_err("times out");
    assert!(err.to_string().contains("timed out after 1s"), "{err}");
    let err = lock(
        &root,
        &quick,
        &[request("a", &server.url("/broken"), "x", "1.0.0")],
    )
    .expect_err("500");
    assert!(err.to_string().contains("500"), "{err}");
}

// ---------------------------------------------------------------- archives (--download)

/// Builds a `.tgz` with the given files.
fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, path, *data).expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

fn demo_chart() -> Vec<u8> {
    tgz(&[
        (
            "demo/Chart.yaml",
            b"apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 21.x\n  repository: oci://registry-1.docker.io/bitnamicharts\n  condition: redis.enabled\n",
        ),
        (
            "demo/values.yaml",
            b"image:\n  repository: ghcr.io/example/demo\n  tag: 1.0.0\nkubectl:\n  image:\n    registry: docker.io\n    repository: bitnami/kubectl\n    tag: \"1.33\"\n",
        ),
    ])
}

#[test]
fn download_verifies_archives_and_records_bitnami_parts() {
    let archive = Arc::new(Mutex::new(demo_chart()));
    let digest = sha256(&archive.lock().expect("lock"));
    let index = small_index(&[("1.0.0", digest.trim_start_matches("sha256:"))]);
    let served = archive.clone();
    let server = Server::start(move |req| match req.path.as_str() {
        "/index.yaml" => Resp::ok(index.clone()),
        "/charts/demo-1.0.0.tgz" => Resp::ok(served.lock().expect("lock").clone()),
        _ => Resp::status(404),
    });
    let (_tmp, root) = temp_root();
    let requests = [request("web", &server.url(""), "demo", "1.0.0")];
    let mut download = args();
    download.download = true;
    let outcome = lock(&root, &download, &requests).expect("downloads");
    let e = &outcome.lock.entries[0];
    assert_eq!(e.digest.as_deref(), Some(digest.as_str()));
    let images: Vec<(&str, &str)> = e
        .images
        .as_ref()
        .expect("images recorded")
        .iter()
        .map(|i| (i.path.as_str(), i.image.as_str()))
        .collect();
    assert_eq!(
        images,
        [
            ("image.repository", "ghcr.io/example/demo:1.0.0"),
            ("kubectl.image.repository", "docker.io/bitnami/kubectl:1.33")
        ]
    );
    let bitnami: Vec<(BitnamiKind, &str, &str)> = e
        .bitnami
        .as_ref()
        .expect("findings recorded")
        .iter()
        .map(|b| (b.kind, b.at.as_str(), b.reference.as_str()))
        .collect();
    assert_eq!(
        bitnami,
        [
            (
                BitnamiKind::Dependency,
                "redis",
                "oci://registry-1.docker.io/bitnamicharts"
            ),
            (
                BitnamiKind::Image,
                "kubectl.image.repository",
                "docker.io/bitnami/kubectl:1.33"
            ),
        ]
    );
    // The build side sees them without network.
    let pinned = read_lock(&root)
        .expect("reads")
        .expect("exists")
        .pin(&requests[0])
        .expect("pins");
    assert_eq!(pinned.bitnami.expect("bitnami").len(), 2);
    // A plain run keeps what `--download` found for the same bytes.
    let plain = lock(&root, &args(), &requests).expect("locks");
    assert!(plain.lock.entries[0].images.is_some() && !plain.written);

    // Tampered bytes for the same version are refused, and the lock is left alone.
    *archive.lock().expect("lock") = tgz(&[("demo/Chart.yaml", b"name: demo\nversion: 1.0.0\n")]);
    let before = fs_err::read_to_string(root.join("hydrate.lock")).expect("lock");
    let err = lock(&root, &download, &requests).expect_err("tampered");
    assert!(matches!(err, LockError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&digest), "{err}");
    assert_eq!(
        fs_err::read_to_string(root.join("hydrate.lock")).expect("lock"),
        before
    );
}

// ---------------------------------------------------------------- OCI

/// A registry that wants an anonymous bearer token and serves one chart, `charts/demo`.
fn registry(chart: Vec<u8>, lie_about_digest: bool) -> (Server, String) {
    let (server, digest, _) = mutable_registry(chart, lie_about_digest);
    (server, digest)
}

/// The Helm config blob of the test chart.
const CONFIG: &[u8] = br#"{"name":"demo","version":"1.2.0","apiVersion":"v2","dependencies":[{"name":"postgresql","version":"16.x","repository":"oci://registry-1.docker.io/bitnamicharts","condition":"postgresql.enabled"}]}"#;

/// The OCI manifest of a Helm chart whose layer is `chart`.
fn chart_manifest(chart: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        sha256(CONFIG),
        CONFIG.len(),
        sha256(chart),
        chart.len()
    )
    .into_bytes()
}

/// Like [`registry`], with a handle to re-push tag `1.2.0` with other chart bytes.
fn mutable_registry(chart: Vec<u8>, lie_about_digest: bool) -> (Server, String, Arc<Mutex<Vec<u8>>>) {
    let manifest_digest = sha256(&chart_manifest(&chart));
    let pushed = Arc::new(Mutex::new(chart));
    let current = pushed.clone();
    let realm = Arc::new(Mutex::new(String::new()));
    let realm2 = realm.clone();
    let server = Server::start(move |req| {
        let path = req.path.as_str();
        if path.starts_with("/token?") {
            return if path.contains("scope=repository%3Acharts%2Fdemo%3Apull")
                && path.contains("service=fake")
            {
                Resp::ok(r#"{"token":"t0k"}"#)
            } else {
                Resp::status(400)
            };
        }
        if req.headers.get("authorization").map(String::as_str) != Some("Bearer t0k") {
            let challenge = format!(
                r#"Bearer realm="{}/token",service="fake",scope="repository:charts/demo:pull""#,
                realm2.lock().expect("lock")
            );
            return Resp::status(401).header("WWW-Authenticate", &challenge);
        }
        let chart = current.lock().expect("lock").clone();
        match path {
            "/v2/charts/demo/tags/list" => {
                Resp::ok(r#"{"name":"charts/demo","tags":["1.0.0","latest","1.2.0"]}"#)
                    .header("Link", r#"</v2/charts/demo/tags/list?last=1.2.0>; rel="next""#)
            }
            "/v2/charts/demo/tags/list?last=1.2.0" => {
                Resp::ok(r#"{"name":"charts/demo","tags":["1.3.0-rc.1","2.0.0","1.1.0_build.1"]}"#)
            }
            "/v2/charts/demo/manifests/1.2.0" => {
                let accept = req.headers.get("accept").cloned().unwrap_or_default();
                if !accept.contains("application/vnd.oci.image.manifest.v1+json") {
                    return Resp::status(406);
                }
                let manifest = chart_manifest(&chart);
                let header = if lie_about_digest {
                    sha256(b"other")
                } else {
                    sha256(&manifest)
                };
                Resp::ok(manifest)
                    .header("Docker-Content-Digest", &header)
                    .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            }
            p if p == format!("/v2/charts/demo/blobs/{}", sha256(CONFIG)) => Resp::ok(CONFIG),
            p if p == format!("/v2/charts/demo/blobs/{}", sha256(&chart)) => Resp::ok(chart),
            _ => Resp::status(404),
        }
    });
    *realm.lock().expect("lock") = server.base.clone();
    (server, manifest_digest, pushed)
}

#[test]
fn oci_charts_resolve_through_the_distribution_api() {
    let (server, manifest_digest) = registry(demo_chart(), false);
    let (_tmp, root) = temp_root();
    let repo = format!("oci://{}/charts", server.base.trim_start_matches("http://"));
    let requests = [request("db", &repo, "demo", "^1")];
    let mut download = args();
    download.download = true;
    let outcome = lock(&root, &download, &requests).expect("locks");
    let e = &outcome.lock.entries[0];
    assert_eq!(
        e.version, "1.2.0",
        "tags across pages; pre-releases and `latest` skipped"
    );
    assert_eq!(e.digest.as_deref(), Some(manifest_digest.as_str()));
    assert_eq!(e.url.as_deref(), Some(format!("{repo}/demo:1.2.0").as_str()));
    assert_eq!(e.dependencies[0].name, "postgresql");
    assert_eq!(e.dependencies[0].condition.as_deref(), Some("postgresql.enabled"));
    assert!(
        e.bitnami.as_ref().is_some_and(|b| b.len() == 2),
        "{:?}",
        e.bitnami
    );
    assert!(server.count("GET /v2/charts/demo/tags/list") >= 1);

    // The build side gets the manifest digest for `OCIRepository.spec.ref.digest`.
    let pinned = read_lock(&root)
        .expect("reads")
        .expect("exists")
        .pin(&requests[0])
        .expect("pins");
    assert_eq!(pinned.digest.as_deref(), Some(manifest_digest.as_str()));

    // `_` in a tag stands for `+`.
    let build = [request("db", &repo, "demo", "1.1.0+build.1")];
    let err = lock(&root, &args(), &build).expect_err("no manifest served for it");
    assert!(err.to_string().contains("1.1.0_build.1"), "{err}");

    // Without `--plain-http` a loopback registry is spoken to over TLS, which fails here.
    let mut tls = args();
    tls.plain_http = false;
    assert!(lock(&root, &tls, &requests).is_err());
}

#[test]
fn oci_manifest_digest_must_match_the_registry_header() {
    let (server, _) = registry(demo_chart(), true);
    let (_tmp, root) = temp_root();
    let repo = format!("oci://{}/charts", server.base.trim_start_matches("http://"));
    let err = lock(&root, &args(), &[request("db", &repo, "demo", "~1.2")]).expect_err("lies");
    assert!(err.to_string().contains("but the registry says"), "{err}");
}

#[test]
fn a_re_pushed_oci_tag_is_reported() {
    let (server, first_digest, pushed) = mutable_registry(demo_chart(), false);
    let (_tmp, root) = temp_root();
    let repo = format!("oci://{}/charts", server.base.trim_start_matches("http://"));
    let requests = [request("db", &repo, "demo", "~1.2")];
    lock(&root, &args(), &requests).expect("locks");

    *pushed.lock().expect("lock") = tgz(&[("demo/Chart.yaml", b"name: demo\nversion: 1.2.0\n")]);
    let again = lock(&root, &args(), &requests).expect("runs");
    assert!(
        matches!(&again.findings[..], [Problem::DigestChanged { locked, .. }] if *locked == first_digest),
        "{:?}",
        again.findings
    );
    let pinned = read_lock(&root)
        .expect("reads")
        .expect("exists")
        .pin(&requests[0])
        .expect("pins");
    assert_eq!(
        pinned.digest.as_deref(),
        Some(first_digest.as_str()),
        "the locked bytes stay"
    );
}

/// End to end: constraints in component files, `hydrate lock`, then a build with no network that
/// writes exact versions, and the OCI manifest digest next to the tag.
#[test]
fn build_renders_locked_versions_and_oci_digests() {
    let server = Server::start(|req| match req.path.as_str() {
        "/index.yaml" => Resp::ok(small_index(&[("1.3.9", &hex('a')), ("1.4.2", &hex('b'))])),
        _ => Resp::status(404),
    });
    let (registry_server, manifest_digest) = registry(demo_chart(), false);
    let (_tmp, root) = temp_root();
    let oci = format!(
        "oci://{}/charts",
        registry_server.base.trim_start_matches("http://")
    );
    let files = [
        (
            "environments/x.yaml",
            "root_domain: example.org\ncluster: {provider: local}\n".to_string(),
        ),
        (
            "apps/web/component.yaml",
            format!(
                "chart:\n  repo: {}\n  name: demo\n  version: \"~1.4\"\n",
                server.url("")
            ),
        ),
        (
            "apps/db/component.yaml",
            format!("chart:\n  repo: {oci}\n  name: demo\n  version: ^1\n"),
        ),
    ];
    for (path, text) in &files {
        let path = root.join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }
    let inputs = hydrate::load::load(&root).expect("loads");
    let requests = hydrate::commands::lock::chart_requests(&inputs).expect("requests");
    lock(&root, &args(), &requests).expect("locks");
    drop(server);
    drop(registry_server); // the build needs no network

    let compiled =
        hydrate::compile_env(&root, "x").unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let object = |kind: &str, name: &str| {
        compiled
            .objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .value
            .clone()
    };
    assert_eq!(
        object("HelmRelease", "web")["spec"]["chart"]["spec"]["version"],
        "1.4.2"
    );
    let oci_ref = &object("OCIRepository", "db")["spec"]["ref"];
    assert_eq!(oci_ref["tag"], "1.2.0");
    assert_eq!(oci_ref["digest"], manifest_digest.as_str());

    // A constraint that moves away from its entry: the build fails and says what to run.
    let path = root.join("apps/web/component.yaml");
    let text = fs_err::read_to_string(&path).unwrap().replace("~1.4", "~1.3");
    fs_err::write(&path, text).unwrap();
    let err = hydrate::compile_env(&root, "x").expect_err("stale lock");
    let text = format!("{:?}", miette::Report::new(err));
    assert!(text.contains("apps/web/component.yaml:4:"), "{text}");
    assert!(
        text.contains("component `web`") && text.contains("run `hydrate lock`"),
        "{text}"
    );
}
