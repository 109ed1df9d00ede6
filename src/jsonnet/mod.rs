//! Render stage, Jsonnet generator: evaluates a component's `main.jsonnet` into Kubernetes objects.
//!
//! Reads only `.jsonnet` / `.libsonnet` files (and `importstr` / `importbin` targets) inside the
//! repository root, through [`resolver::RepoResolver`]; writes nothing; no network.
//!
//! How one evaluation runs (see `docs/jsonnet.md` for the why):
//! 1. A fresh OS thread with a large stack is spawned, so that the evaluator's own depth limit
//!    ([`Limits::max_stack`]) always trips before the native stack could overflow.
//! 2. On that thread, one `jrsonnet` `State` is built (the evaluator is `!Send`: `Rc`, thread-local
//!    string pool and GC), the context is bound as external variables, `main.jsonnet` is imported,
//!    and, when it returns a function, called with the context as top-level arguments.
//! 3. The result is manifested to `serde_json::Value`s (keys sorted, as `jsonnet` itself does) and
//!    normalised to a list of objects; errors are turned into [`JsonnetError`]s naming repo files.
//! 4. The caller waits at most [`Limits::timeout`]; a runaway evaluation is reported as an error and
//!    its thread is left to finish on its own (Rust cannot kill a thread).

mod convert;
mod error;
mod eval;
mod resolver;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

pub use error::{JsonnetError, Located};

/// Names under which the context is bound, both as top-level arguments and as `std.extVar`s.
pub const CONTEXT_NAMES: [&str; 5] = ["env", "root_domain", "features", "values", "components"];

/// The resolved context a `main.jsonnet` is evaluated with.
///
/// Each field is bound under its own name as a top-level argument (when the program is a
/// function) and as an external variable (`std.extVar('env')`, ...), whatever the program's form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonnetContext {
    /// Environment name, e.g. `prod`.
    pub env: String,
    /// The environment's root domain, e.g. `example.org`.
    pub root_domain: String,
    /// Feature switches of the environment: a JSON object (`{"backups": true, ...}`).
    pub features: serde_json::Value,
    /// The component's merged values (defaults overridden by the environment): any JSON.
    pub values: serde_json::Value,
    /// The components of the environment: a JSON array of objects (see `docs/jsonnet.md`).
    pub components: serde_json::Value,
}

/// Bounds on one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest Jsonnet call stack (function calls, imports, object field evaluation), as `jsonnet
    /// --max-stack`; past it evaluation fails with a stack-overflow error.
    pub max_stack: usize,
    /// Wall-clock time an evaluation may take before it is reported as runaway.
    pub timeout: Duration,
    /// Native stack of the evaluation thread, in bytes (reserved, committed only when touched).
    pub thread_stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_stack: 500,
            timeout: Duration::from_secs(60),
            thread_stack_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Evaluates `file` (repo-relative path of a `main.jsonnet`) with `ctx`, under the default [`Limits`].
///
/// Returns the objects in a deterministic order: the array's order, or the named objects' key
/// order. Safe to call from many threads at once (each call owns its evaluator).
pub fn evaluate(
    root: &Utf8Path,
    file: &Utf8Path,
    ctx: &JsonnetContext,
) -> Result<Vec<serde_json::Value>, JsonnetError> {
    evaluate_with(root, file, ctx, &Limits::default())
}

/// Evaluates `file` like [`evaluate`], under explicit `limits`.
pub fn evaluate_with(
    root: &Utf8Path,
    file: &Utf8Path,
    ctx: &JsonnetContext,
    limits: &Limits,
) -> Result<Vec<serde_json::Value>, JsonnetError> {
    let job = eval::Job::new(root, file, ctx, limits)?;
    run_on_own_thread(job, file, limits)
}

/// Runs `job` on a fresh thread with a large stack, waiting at most `limits.timeout`.
fn run_on_own_thread(
    job: eval::Job,
    file: &Utf8Path,
    limits: &Limits,
) -> Result<Vec<serde_json::Value>, JsonnetError> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("jsonnet {file}"))
        .stack_size(limits.thread_stack_bytes)
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| job.run()));
            // The receiver is gone only after a timeout; nobody wants the result then.
            let _ = tx.send(outcome.map_err(panic_message));
        });
    let handle = spawned.map_err(|source| JsonnetError::Thread {
        file: file.to_owned(),
        source,
    })?;
    match rx.recv_timeout(limits.timeout) {
        Ok(outcome) => {
            // The thread has sent its last message; joining only reaps it.
            let _ = handle.join();
            outcome.unwrap_or_else(|message| {
                Err(JsonnetError::Internal {
                    file: file.to_owned(),
                    message,
                })
            })
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(JsonnetError::Timeout {
            file: file.to_owned(),
            secs: limits.timeout.as_secs_f64(),
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(JsonnetError::Internal {
            file: file.to_owned(),
            message: "the evaluation thread ended without a result".to_owned(),
        }),
    }
}

/// Text of a panic payload, for [`JsonnetError::Internal`].
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic without a message".to_owned())
}

/// A repo-relative path from an absolute one under `root`, or `None` when it is outside.
fn relative_to(root: &std::path::Path, path: &std::path::Path) -> Option<Utf8PathBuf> {
    let rel = path.strip_prefix(root).ok()?;
    Utf8PathBuf::from_path_buf(rel.to_path_buf()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Utf8PathBuf {
        Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases/jsonnet")
    }

    fn ctx() -> JsonnetContext {
        JsonnetContext {
            env: "prod".into(),
            root_domain: "example.org".into(),
            features: serde_json::json!({"backups": true}),
            values: serde_json::json!({"replicas": 2}),
            components: serde_json::json!([]),
        }
    }

    #[test]
    fn panic_message_reads_both_payload_kinds() {
        assert_eq!(panic_message(Box::new("a")), "a");
        assert_eq!(panic_message(Box::new(String::from("b"))), "b");
        assert_eq!(panic_message(Box::new(3_u8)), "panic without a message");
    }

    #[test]
    fn relative_to_refuses_paths_outside_the_root() {
        let root = std::path::Path::new("/repo");
        assert_eq!(
            relative_to(root, std::path::Path::new("/repo/lib/a.libsonnet")),
            Some(Utf8PathBuf::from("lib/a.libsonnet"))
        );
        assert_eq!(relative_to(root, std::path::Path::new("/other/a")), None);
    }

    #[test]
    fn timeout_is_an_error_not_a_hang() {
        let limits = Limits {
            timeout: Duration::from_millis(50),
            ..Limits::default()
        };
        let err =
            evaluate_with(&root(), Utf8Path::new("errors/runaway.jsonnet"), &ctx(), &limits).unwrap_err();
        assert!(matches!(err, JsonnetError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("errors/runaway.jsonnet"), "{err}");
    }
}
