//! `kubectl kustomize` accepts `out/<env>` and every `out/<env>/<layer>` of the repository and of the
//! fixtures (skips with a message where kubectl is absent).

use camino::Utf8Path;

use crate::support::{case, compile, env_names, kubectl, repo_root, write_tree};

fn kustomize_all(root: &Utf8Path) {
    let Some(kubectl) = kubectl() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for env in env_names(root) {
        let dir = Utf8Path::from_path(tmp.path()).unwrap().join("out").join(&env);
        let compiled = compile(root, &env);
        write_tree(&compiled.tree, &dir);
        let mut targets = vec![dir.clone()];
        for entry in fs_err::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                targets.push(dir.join(entry.file_name().to_str().unwrap()));
            }
        }
        targets.sort();
        for target in targets {
            let out = std::process::Command::new(&kubectl)
                .arg("kustomize")
                .arg(target.as_str())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "kubectl kustomize {target} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !out.stdout.is_empty(),
                "kubectl kustomize {target} rendered nothing"
            );
        }
    }
}

#[test]
fn repository_envs_and_layers_kustomize() {
    kustomize_all(&repo_root());
}

#[test]
fn fixture_envs_and_layers_kustomize() {
    kustomize_all(&case("basic"));
}

#[test]
fn jsonnet_fixture_envs_and_layers_kustomize() {
    kustomize_all(&case("jsonnet"));
}
