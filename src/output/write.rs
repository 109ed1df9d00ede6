//! Writes a [`Tree`] to `out/<env>` atomically: everything is written into a staging folder
//! beside it (`out/.<env>.XXXXXX`), which is then swapped in whole. On any error `out/<env>` is
//! left as it was. Nothing outside `out/<env>/` (and the staging folders) is written or deleted.

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};

use super::Tree;
use crate::error::OutputError;

/// Replaces `out_root/<env>` with `tree`.
pub fn write(tree: &Tree, out_root: &Utf8Path, env: &str) -> Result<(), OutputError> {
    let io = |path: &Utf8Path| {
        let path = path.to_owned();
        move |source| OutputError::Io { path, source }
    };
    ensure_local(Utf8Path::new(env))?;
    fs_err::create_dir_all(out_root).map_err(io(out_root))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{env}."))
        .tempdir_in(out_root)
        .map_err(io(out_root))?;
    let staging_path = Utf8Path::from_path(staging.path()).ok_or_else(|| OutputError::NotLocal {
        path: Utf8PathBuf::from(staging.path().to_string_lossy().into_owned()),
    })?;
    for (rel, bytes) in tree {
        ensure_local(rel)?;
        let path = staging_path.join(rel);
        let parent = path.parent().expect("a joined path has a parent");
        fs_err::create_dir_all(parent).map_err(io(rel))?;
        fs_err::write(&path, bytes).map_err(io(rel))?;
    }
    swap_in(staging, &out_root.join(env), out_root)
}

/// Only plain relative paths: no `..`, no root, not empty.
fn ensure_local(rel: &Utf8Path) -> Result<(), OutputError> {
    let ok = !rel.as_str().is_empty() && rel.components().all(|c| matches!(c, Utf8Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(OutputError::NotLocal { path: rel.to_owned() })
    }
}

/// Old tree aside → new tree in → old tree removed; the old tree is put back if the swap fails.
fn swap_in(staging: tempfile::TempDir, target: &Utf8Path, out_root: &Utf8Path) -> Result<(), OutputError> {
    let io = |path: &Utf8Path| {
        let path = path.to_owned();
        move |source| OutputError::Io { path, source }
    };
    let name = target.file_name().expect("target is out/<env>");
    let aside = if target.exists() {
        let aside = tempfile::Builder::new()
            .prefix(&format!(".{name}.old."))
            .tempdir_in(out_root)
            .map_err(io(out_root))?;
        // Renaming onto the empty folder replaces it (POSIX rename of directories).
        fs_err::rename(target, aside.path()).map_err(io(target))?;
        Some(aside)
    } else {
        None
    };
    let staged = staging.keep();
    if let Err(source) = fs_err::rename(&staged, target) {
        if let Some(aside) = &aside {
            let _ = fs_err::rename(aside.path(), target);
        }
        let _ = fs_err::remove_dir_all(&staged);
        return Err(OutputError::Io {
            path: target.to_owned(),
            source,
        });
    }
    drop(aside); // removes the previous tree
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::tree_of as tree;

    #[test]
    fn swaps_the_whole_tree_and_removes_stale_files() {
        let tmp = tempfile::tempdir().unwrap();
        let out = Utf8Path::from_path(tmp.path()).unwrap().join("out");
        write(&tree(&[("a/x.yaml", "1"), ("b.yaml", "2")]), &out, "prod").unwrap();
        write(&tree(&[("a/y.yaml", "3")]), &out, "prod").unwrap();
        assert!(!out.join("prod/a/x.yaml").exists());
        assert!(!out.join("prod/b.yaml").exists());
        assert_eq!(fs_err::read_to_string(out.join("prod/a/y.yaml")).unwrap(), "3");
        let leftovers: Vec<_> = fs_err::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec!["prod"], "no staging folder is left behind");
    }

    #[test]
    fn refuses_paths_that_leave_the_env_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let out = Utf8Path::from_path(tmp.path()).unwrap().join("out");
        write(&tree(&[("keep.yaml", "old")]), &out, "prod").unwrap();
        let err = write(&tree(&[("../evil.yaml", "x")]), &out, "prod").unwrap_err();
        assert!(matches!(err, OutputError::NotLocal { .. }));
        assert_eq!(fs_err::read_to_string(out.join("prod/keep.yaml")).unwrap(), "old");
        assert!(!out.join("evil.yaml").exists());
    }
}
