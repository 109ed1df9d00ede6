//! Import resolution for `import`, `importstr` and `importbin`, confined to the repository.
//!
//! The only code of this module that reads files. Order (jsonnet-bundler layout):
//! 1. relative to the importing file;
//! 2. `<root>/lib/`;
//! 3. `<root>/vendor/`.
//!
//! A path that leaves the root, lexically (`../..`) or through a symlink, is an error; so are
//! absolute paths and anything that is not a regular file. There is no network import.

use std::cell::RefCell;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use jrsonnet_evaluator::error::ErrorKind;
use jrsonnet_evaluator::{AsPathLike, ImportResolver, Result, SourcePath};
use jrsonnet_gcmodule::Acyclic;
use jrsonnet_ir::SourceFile;

/// Deepest bracket nesting a file may have.
///
/// `jrsonnet`'s parser and static analysis recurse without growing the stack, so a file nested
/// deeply enough would overflow the native stack and abort the process; past this depth it is an
/// error instead. Measured: 5,000 levels still parse on the 256 MiB evaluation thread of a debug build.
pub(super) const MAX_BRACKET_DEPTH: usize = 1000;

/// Library folders searched after the importing file's own folder, in order.
pub(super) const LIBRARY_DIRS: [&str; 2] = ["lib", "vendor"];

/// An import that could not be resolved, remembered so the error can point at the `import` line.
#[derive(Debug, Clone, PartialEq, Eq, Acyclic)]
pub(super) struct ImportFailure {
    /// Canonical absolute path of the importing file.
    pub(super) from: PathBuf,
    /// The path as written in the `import`.
    pub(super) request: String,
}

/// Resolves imports inside one canonical repository root.
#[derive(Acyclic)]
pub(super) struct RepoResolver {
    root: PathBuf,
    failures: Rc<RefCell<Vec<ImportFailure>>>,
}

impl RepoResolver {
    /// A resolver for the canonical absolute `root`.
    pub(super) fn new(root: PathBuf) -> Self {
        Self {
            root,
            failures: Rc::default(),
        }
    }

    /// The failed imports, shared: still readable once the resolver has moved into the state.
    pub(super) fn failures(&self) -> Rc<RefCell<Vec<ImportFailure>>> {
        Rc::clone(&self.failures)
    }

    /// Repo-relative display of an absolute path under the root.
    fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Finds the file `request` names, imported from the file at `from`.
    fn find(&self, from: &Path, request: &str) -> std::result::Result<PathBuf, String> {
        let requested = Path::new(request);
        let from_rel = self.display(from);
        if requested.is_absolute() {
            return Err(format!(
                "import `{request}` in `{from_rel}` is an absolute path; hydrate imports only \
                 files inside the repository, by a relative path or from `lib/` / `vendor/`"
            ));
        }
        let dir = from.parent().unwrap_or(&self.root);
        let relative = normalize(&dir.join(requested));
        if !relative.starts_with(&self.root) {
            return Err(format!(
                "import `{request}` in `{from_rel}` points outside the repository root"
            ));
        }
        let candidates = std::iter::once(relative).chain(
            LIBRARY_DIRS
                .iter()
                .map(|lib| normalize(&self.root.join(lib).join(requested))),
        );
        for candidate in candidates {
            if !candidate.starts_with(&self.root) {
                continue;
            }
            let Ok(meta) = fs_err::metadata(&candidate) else {
                continue;
            };
            if meta.is_dir() {
                continue;
            }
            let canonical = fs_err::canonicalize(&candidate)
                .map_err(|e| format!("cannot resolve `{}`: {}", self.display(&candidate), e.kind()))?;
            if !canonical.starts_with(&self.root) {
                return Err(format!(
                    "import `{request}` in `{from_rel}` resolves through a symlink to a file \
                     outside the repository root"
                ));
            }
            if !meta.is_file() {
                return Err(format!(
                    "import `{request}` in `{from_rel}` is not a regular file"
                ));
            }
            return Ok(canonical);
        }
        let dir_rel = self.display(dir);
        let dir_rel = if dir_rel.is_empty() {
            ".".to_owned()
        } else {
            dir_rel
        };
        Err(format!(
            "cannot find import `{request}` from `{from_rel}`: looked in `{dir_rel}/`, `lib/`, `vendor/`"
        ))
    }
}

impl ImportResolver for RepoResolver {
    fn resolve_from(&self, from: &SourcePath, path: &dyn AsPathLike) -> Result<SourcePath> {
        let request = path.as_path();
        let request: &Path = request.as_ref();
        let request = request.to_string_lossy().into_owned();
        let Some(from_file) = from.downcast_ref::<SourceFile>() else {
            return Err(ErrorKind::ImportCallbackError(format!(
                "import `{request}` is only allowed from a file in the repository"
            ))
            .into());
        };
        match self.find(from_file.path(), &request) {
            Ok(found) => Ok(SourcePath::new(SourceFile::new(found))),
            Err(message) => {
                self.failures.borrow_mut().push(ImportFailure {
                    from: from_file.path().to_owned(),
                    request,
                });
                Err(ErrorKind::ImportCallbackError(message).into())
            }
        }
    }

    fn load_file_contents(&self, resolved: &SourcePath) -> Result<Vec<u8>> {
        let Some(file) = resolved.downcast_ref::<SourceFile>() else {
            return Err(ErrorKind::ImportCallbackError(format!(
                "`{resolved}` is not a file of the repository"
            ))
            .into());
        };
        let path = file.path();
        if !path.starts_with(&self.root) {
            return Err(ErrorKind::ImportCallbackError(format!(
                "`{}` is outside the repository root",
                path.display()
            ))
            .into());
        }
        let bytes = fs_err::read(path).map_err(|e| {
            ErrorKind::ImportCallbackError(format!("cannot read `{}`: {}", self.display(path), e.kind()))
        })?;
        if let Some(offset) = too_deep(&bytes, MAX_BRACKET_DEPTH) {
            let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
            return Err(ErrorKind::ImportCallbackError(format!(
                "`{}:{line}` nests brackets more than {MAX_BRACKET_DEPTH} levels deep; \
                 flatten the data or split it into functions",
                self.display(path)
            ))
            .into());
        }
        Ok(bytes)
    }
}

/// The text of a repo file the evaluator already read, to point an error at a failed `import`.
pub(super) fn read_source(path: &Path) -> Option<String> {
    fs_err::read_to_string(path).ok()
}

/// The offset where bracket nesting first passes `limit`, skipping strings and comments.
fn too_deep(code: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0_usize;
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        match code[i] {
            b'#' => i = find(code, i, b"\n").unwrap_or(code.len()),
            b'/' if rest.starts_with(b"//") => i = find(code, i, b"\n").unwrap_or(code.len()),
            b'/' if rest.starts_with(b"/*") => {
                i = find(code, i + 2, b"*/").map_or(code.len(), |end| end + 1);
            }
            b'|' if rest.starts_with(b"|||") => {
                i = find(code, i + 3, b"|||").map_or(code.len(), |end| end + 2);
            }
            quote @ (b'\'' | b'"') => i = string_end(code, i, quote),
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of the quote closing the string opened at `start` (`@'...'` strings have no escapes).
fn string_end(code: &[u8], start: usize, quote: u8) -> usize {
    let verbatim = start > 0 && code[start - 1] == b'@';
    let mut i = start + 1;
    while i < code.len() {
        if code[i] == b'\\' && !verbatim {
            i += 2;
            continue;
        }
        if code[i] == quote {
            if verbatim && code.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i;
        }
        i += 1;
    }
    code.len()
}

/// The offset of the first `needle` at or after `from`.
fn find(code: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    code.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// Resolves `.` and `..` lexically (without touching the disk), so escapes show before any read.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = fs_err::canonicalize(dir.path()).expect("canonical temp dir");
        for (path, text) in [
            ("apps/a/main.jsonnet", "{}"),
            ("apps/a/local.libsonnet", "1"),
            ("lib/shared.libsonnet", "2"),
            ("vendor/pkg/main.libsonnet", "3"),
            ("lib/both.libsonnet", "'lib'"),
            ("vendor/both.libsonnet", "'vendor'"),
        ] {
            let full = root.join(path);
            fs_err::create_dir_all(full.parent().expect("has parent")).expect("mkdir");
            fs_err::write(full, text).expect("write");
        }
        (dir, root)
    }

    fn rel(root: &Path, found: std::result::Result<PathBuf, String>) -> String {
        match found {
            Ok(p) => p.strip_prefix(root).expect("under root").display().to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn order_is_relative_then_lib_then_vendor() {
        let (_dir, root) = fixture();
        let r = RepoResolver::new(root.clone());
        let from = root.join("apps/a/main.jsonnet");
        assert_eq!(
            rel(&root, r.find(&from, "local.libsonnet")),
            "apps/a/local.libsonnet"
        );
        assert_eq!(
            rel(&root, r.find(&from, "shared.libsonnet")),
            "lib/shared.libsonnet"
        );
        assert_eq!(
            rel(&root, r.find(&from, "pkg/main.libsonnet")),
            "vendor/pkg/main.libsonnet"
        );
        assert_eq!(rel(&root, r.find(&from, "both.libsonnet")), "lib/both.libsonnet");
        assert_eq!(
            rel(&root, r.find(&from, "../../lib/shared.libsonnet")),
            "lib/shared.libsonnet"
        );
    }

    #[test]
    fn escapes_and_absolute_paths_are_refused() {
        let (_dir, root) = fixture();
        let r = RepoResolver::new(root.clone());
        let from = root.join("apps/a/main.jsonnet");
        let up = r.find(&from, "../../../x.libsonnet").unwrap_err();
        assert!(up.contains("outside the repository root"), "{up}");
        let abs = r.find(&from, "/etc/passwd").unwrap_err();
        assert!(abs.contains("absolute path"), "{abs}");
        let missing = r.find(&from, "nope.libsonnet").unwrap_err();
        assert!(
            missing.contains("looked in `apps/a/`, `lib/`, `vendor/`"),
            "{missing}"
        );
        assert!(!missing.contains(&root.display().to_string()), "{missing}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let (_dir, root) = fixture();
        let outside = tempfile::tempdir().expect("temp dir");
        let target = outside.path().join("secret.libsonnet");
        fs_err::write(&target, "'secret'").expect("write");
        std::os::unix::fs::symlink(&target, root.join("lib/secret.libsonnet")).expect("symlink");
        let r = RepoResolver::new(root.clone());
        let err = r
            .find(&root.join("apps/a/main.jsonnet"), "secret.libsonnet")
            .unwrap_err();
        assert!(err.contains("symlink"), "{err}");
    }

    #[test]
    fn bracket_depth_ignores_strings_and_comments() {
        let deep = format!("{}1{}", "[".repeat(5), "]".repeat(5));
        assert_eq!(too_deep(deep.as_bytes(), 5), None);
        assert_eq!(too_deep(deep.as_bytes(), 4), Some(4));
        let hidden =
            "// [[[[[[\n# ((((((\n/* {{{{{{ */ '[[[[[[' \"\\\"[[[[[[\" @'x''[[[[[[' |||\n  [[[[[[\n|||\n[1]";
        assert_eq!(too_deep(hidden.as_bytes(), 1), None);
        assert_eq!(too_deep(b"{a: [1]}", 1), Some(4));
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("/r/a/./b/../c")), PathBuf::from("/r/a/c"));
        assert_eq!(normalize(Path::new("/r/../../x")), PathBuf::from("/x"));
    }
}
