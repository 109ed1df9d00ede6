//! Times hydrate's own `jsonnet::evaluate` on the realistic program of `benches/programs/`
//! (250 tenants x 8 = 2,000 Kubernetes objects), and on it from 1 and 4 rayon workers at once.
//!
//! For scale, it also times bare jrsonnet (state, import, manifest to a JSON string) on a fresh
//! thread, without hydrate's import resolver, conversion to `serde_json` and teardown.
//!
//! Run: `cargo bench --bench jsonnet`. Prints numbers; asserts nothing about time.

use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use hydrate::jsonnet::{JsonnetContext, Limits, evaluate, evaluate_with};
use rayon::prelude::*;

const RUNS: usize = 10;

fn root() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/programs")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Minimum and median of `runs` timings of `f` (after one warm-up run).
fn time(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (ms(times[0]), ms(times[runs / 2]))
}

/// Bare jrsonnet on a fresh thread: build a state, import, manifest to a JSON string.
fn bare_jrsonnet() {
    use jrsonnet_evaluator::{FileImportResolver, State, manifest::JsonFormat, trace::PathResolver};
    let work = || {
        let _limit = jrsonnet_evaluator::stack::limit_stack_depth(500);
        let mut builder = State::builder();
        builder
            .import_resolver(FileImportResolver::new(vec![root().into_std_path_buf()]))
            .context_initializer(jrsonnet_stdlib::ContextInitializer::new(PathResolver::Absolute));
        let state = builder.build();
        let _entered = state.enter();
        let val = state
            .import(root().join("k8s-2000.jsonnet").as_std_path())
            .expect("imports");
        // The program is a function with defaults: call it with no arguments.
        #[allow(clippy::disallowed_types, clippy::mutable_key_type, reason = "jrsonnet's API")]
        let no_args = std::collections::HashMap::new();
        let val = jrsonnet_evaluator::apply_tla(&no_args, val).expect("calls");
        let text = val.manifest(JsonFormat::default()).expect("manifests");
        std::hint::black_box(text);
    };
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(work)
        .expect("spawn")
        .join()
        .expect("bare run");
}

fn main() {
    let ctx = JsonnetContext::default();
    let file = Utf8Path::new("k8s-2000.jsonnet");
    let objects = evaluate(&root(), file, &ctx).expect("the bench program evaluates");
    assert_eq!(objects.len(), 2000);

    let (min, median) = time(RUNS, || {
        evaluate(&root(), file, &ctx).expect("evaluates");
    });
    println!("evaluate k8s-2000 (2,000 objects): min {min:.1} ms, median {median:.1} ms");
    let (min, median) = time(RUNS, bare_jrsonnet);
    println!("bare jrsonnet k8s-2000 to a JSON string: min {min:.1} ms, median {median:.1} ms");

    for threads in [1, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let (min, median) = time(3, || {
            pool.install(|| {
                (0..8).into_par_iter().for_each(|_| {
                    evaluate(&root(), file, &ctx).expect("evaluates");
                });
            });
        });
        println!("8 x k8s-2000 on {threads} rayon worker(s): min {min:.1} ms, median {median:.1} ms");
    }

    for depth in [400_u32, 450] {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir_path = Utf8Path::from_path(dir.path()).expect("UTF-8 temp path");
        let program = format!(
            "local sum(n) = if n == 0 then 0 else n + sum(n - 1);\n\
             {{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: 'sum' }}, data: {{ sum: std.toString(sum({depth})) }} }}"
        );
        fs_err::write(dir_path.join("main.jsonnet"), program).expect("write");
        let (min, median) = time(RUNS, || {
            evaluate_with(dir_path, Utf8Path::new("main.jsonnet"), &ctx, &Limits::default())
                .expect("evaluates");
        });
        println!("evaluate deep-sum depth {depth}: min {min:.1} ms, median {median:.1} ms");
    }
}
