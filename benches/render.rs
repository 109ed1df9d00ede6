//! Render benchmark: a synthetic repository of many components, compiled with 1 and N threads.
//! `cargo bench --bench render` prints the timings; nothing asserts on them.

use std::time::Instant;

use camino::Utf8PathBuf;

fn write(path: &Utf8PathBuf, text: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

/// `components` apps, each with a chart, values, hosts and a three-document manifest.
fn synthetic_repo(components: usize) -> (tempfile::TempDir, Utf8PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(tmp.path().to_path_buf()).unwrap();
    write(
        &root.join("environments/prod.yaml"),
        "root_domain: example.org\ncluster: {provider: doks}\n",
    );
    write(
        &root.join("platform/traefik/component.yaml"),
        "generator: traefik\nchart: {repo: https://traefik.github.io/charts, name: traefik, version: 41.7.0}\n",
    );
    for i in 0..components {
        let dir = root.join(format!("apps/app{i:04}"));
        write(
            &dir.join("component.yaml"),
            &format!(
                "chart: {{repo: https://charts.example.org, name: app, version: 1.{i}.0}}\n\
                 hosts: [\"app{i}.${{root_domain}}\"]\n\
                 route: {{service: app{i}, port: 80}}\n\
                 values:\n  image: {{repository: ghcr.io/example/app, tag: \"1.0.{i}\"}}\n  \
                 env: {{A: \"on\", B: \"12:30\", HOST: \"app{i}.${{root_domain}}\"}}\n  \
                 resources: {{limits: {{memory: 256Mi}}}}\n\
                 manifests: [extra.yaml]\n"
            ),
        );
        let mut extra = String::new();
        for n in 0..3 {
            extra.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{n}}}\ndata: {{env: \"${{env}}\", n: \"{n}\"}}\n"
            ));
        }
        write(&dir.join("extra.yaml"), &extra);
    }
    (tmp, root)
}

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) {
    let start = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(f());
    }
    let each = start.elapsed() / runs;
    println!("{label:<40} {:>10.2} ms", each.as_secs_f64() * 1000.0);
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for components in [50, 500] {
        let (_tmp, root) = synthetic_repo(components);
        let inputs = hydrate::load::load(&root).unwrap();
        time(&format!("load {components} components"), 5, || {
            hydrate::load::load(&root).unwrap()
        });
        for n in [1, threads] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
            time(
                &format!("compile {components} components, {n} thread(s)"),
                5,
                || {
                    pool.install(|| {
                        hydrate::compile(&inputs, "prod")
                            .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
                    })
                },
            );
        }
    }
}
