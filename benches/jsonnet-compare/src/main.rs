//! Compares jrsonnet (pure Rust) with jsonnet-rs (bindings to C++ libjsonnet) on the programs in
//! `benches/programs/`. Each (engine, case) runs in a child process of its own, so a crash (native
//! stack overflow) is recorded instead of ending the run, and peak memory is per case.
//!
//! Usage: `jsonnet-compare` (all cases) or `jsonnet-compare <engine> <program> <depth|tenants> <runs>`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Native stack of the evaluation thread: the usual 8 MiB main-thread stack.
const THREAD_STACK: usize = 8 * 1024 * 1024;
/// Jsonnet stack limit given to both engines (`--max-stack`); libjsonnet's default is 500.
const MAX_STACK: u32 = 200_000;

fn programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../programs")
}

/// One evaluation: the JSON text, or the error text.
fn run_once(engine: &str, program: &Path, arg_name: &str, arg: u32) -> Result<String, String> {
    match engine {
        "jrsonnet" => jrsonnet(program, arg_name, arg),
        "libjsonnet" => libjsonnet(program, arg_name, arg),
        other => Err(format!("unknown engine {other}")),
    }
}

fn jrsonnet(program: &Path, arg_name: &str, arg: u32) -> Result<String, String> {
    use jrsonnet_evaluator::trace::{CompactFormat, PathResolver, TraceFormat};
    use jrsonnet_evaluator::{
        FileImportResolver, State, Val, apply_tla, manifest::JsonFormat, tla::TlaArg,
    };
    let _limit = jrsonnet_evaluator::stack::limit_stack_depth(MAX_STACK as usize);
    let mut builder = State::builder();
    builder
        .import_resolver(FileImportResolver::new(vec![programs()]))
        .context_initializer(jrsonnet_stdlib::ContextInitializer::new(
            PathResolver::Absolute,
        ));
    let state = builder.build();
    let _entered = state.enter();
    let fmt =
        |e: jrsonnet_evaluator::Error| CompactFormat::default().format(&e).unwrap_or_default();
    let val = state.import(program).map_err(fmt)?;
    let mut tla = HashMap::new();
    tla.insert(
        arg_name.into(),
        TlaArg::Val(Val::Num(
            jrsonnet_evaluator::NumValue::new(f64::from(arg)).unwrap(),
        )),
    );
    let val = apply_tla(&tla, val).map_err(fmt)?;
    val.manifest(JsonFormat::default()).map_err(fmt)
}

fn libjsonnet(program: &Path, arg_name: &str, arg: u32) -> Result<String, String> {
    let mut vm = jsonnet::JsonnetVm::new();
    vm.max_stack(MAX_STACK);
    vm.jpath_add(programs());
    vm.tla_code(arg_name, &arg.to_string());
    match vm.evaluate_file(program) {
        Ok(out) => Ok(out.as_str().to_owned()),
        Err(e) => Err(e.as_str().to_owned()),
    }
}

/// A digest of the output with whitespace outside strings removed (both engines sort keys), so
/// the two engines' outputs can be compared; plus the number of top-level items.
fn digest(json: &str) -> String {
    let mut canonical = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            canonical.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            canonical.push(c);
        }
    }
    // FNV-1a: enough to compare two outputs.
    let hash = canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    // serde_json stops at 128 levels of nesting; the deep cases are single objects anyway.
    let items = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(1);
    format!("items={items} digest={hash:016x}")
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Child mode: runs one case `runs` times (after a warm-up) and prints one result line.
fn child(engine: &str, program: &str, arg: u32, runs: usize) {
    let path = programs().join(program);
    let arg_name = if program.starts_with("k8s") {
        "tenants"
    } else {
        "depth"
    };
    let engine = engine.to_owned();
    let handle = std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let mut times = Vec::new();
            let mut last = Ok(String::new());
            for _ in 0..=runs {
                let start = Instant::now();
                last = run_once(&engine, &path, arg_name, arg);
                times.push(start.elapsed());
            }
            times.remove(0); // warm-up
            (times, last)
        })
        .expect("spawn");
    let (mut times, last) = handle.join().expect("evaluation thread");
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times[times.len() / 2];
    match last {
        Ok(json) => println!(
            "ok min={:.1}ms median={:.1}ms rss={:.0}MiB {}",
            ms(times[0]),
            ms(median),
            peak_rss_mib(),
            digest(&json)
        ),
        Err(e) => println!(
            "error min={:.1}ms rss={:.0}MiB: {}",
            ms(times[0]),
            peak_rss_mib(),
            e.lines().next().unwrap_or_default()
        ),
    }
}

/// Most time one child may take before it is killed and reported.
const CHILD_TIMEOUT: Duration = Duration::from_secs(150);

/// Runs one case in a child process; its result line, `CRASH` or `TIMEOUT`.
fn run_child(exe: &Path, engine: &str, program: &str, arg: u32, runs: usize) -> String {
    let mut child = Command::new(exe)
        .args([engine, program, &arg.to_string(), &runs.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run child");
    let start = Instant::now();
    loop {
        if let Some(_status) = child.try_wait().expect("wait") {
            break;
        }
        if start.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return format!("TIMEOUT after {} s", CHILD_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        line
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        format!(
            "CRASH ({}): {}",
            out.status,
            err.lines().last().unwrap_or_default()
        )
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 {
        child(
            &args[1],
            &args[2],
            args[3].parse().expect("number"),
            args[4].parse().expect("runs"),
        );
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    // (program, tenants or depth, timed runs after the warm-up)
    // Not deep-nest at 100,000: jrsonnet took all 23 GiB of the machine there (OOM-killed) and
    // libjsonnet overflowed its native stack; see docs/jsonnet.md.
    let cases: [(&str, u32, usize); 7] = [
        ("k8s-2000.jsonnet", 250, 5),
        ("deep-sum.jsonnet", 400, 10),
        ("deep-sum.jsonnet", 10_000, 3),
        ("deep-sum.jsonnet", 100_000, 1),
        ("deep-nest.jsonnet", 400, 10),
        ("deep-nest.jsonnet", 10_000, 3),
        ("infinite.jsonnet", 0, 1),
    ];
    println!(
        "max_stack={MAX_STACK}, evaluation thread stack={} MiB",
        THREAD_STACK / (1024 * 1024)
    );
    for (program, arg, runs) in cases {
        for engine in ["jrsonnet", "libjsonnet"] {
            let line = run_child(&exe, engine, program, arg, runs);
            println!("{program:<18} {arg:>7} {engine:<10} {line}");
        }
    }
}
