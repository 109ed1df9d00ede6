//! Output stage, the code that writes `out/` (with `lock.rs` and `journal.rs`). It creates,
//! replaces and removes `out/<env>` for the environments it is given, its own staging folders
//! `out/.<env>.hydrate-XXXXXX`, and `out/.hydrate.swap`; it removes leftovers of interrupted
//! builds ([`recover`]); nothing else under `out/` or outside it is written or deleted.
//!
//! [`write_all`] runs these steps, all under the [`OutLock`]:
//!
//! 1. **Stage** every environment in `out/.<env>.hydrate-XXXXXX`: each folder created once, then
//!    the files in parallel (rayon). A file whose bytes equal those of the same path in the
//!    current `out/<env>` is hard-linked from it instead of written (see *Hard links*).
//! 2. **Flush**: once every file is written, fsync each written file, then each staging folder
//!    (in parallel, on 4 threads per core: fsync waits on the disk). A failure in steps 1–2
//!    (disk full, a name the file system refuses) removes the staging folders and swaps
//!    nothing: `out/` is as it was.
//! 3. **Journal** the swaps about to happen in `out/.hydrate.swap` (flushed).
//! 4. **Swap** each environment in one atomic step: `renameat2(RENAME_EXCHANGE)` of the staging
//!    folder and `out/<env>` (`RENAME_NOREPLACE` when `out/<env>` does not exist yet). If one
//!    swap fails (`EXDEV`…), those already done are exchanged back, in reverse order.
//! 5. **Commit**: fsync `out/`, remove the journal, fsync `out/` again.
//! 6. **Remove** the previous trees, now under the staging names, in parallel.
//!
//! ## What a crash leaves
//!
//! Killed at any point (SIGKILL, SIGINT, SIGTERM, or a power loss once step 2 has run), every
//! `out/<env>` is a complete tree, the previous or the new one, never a mix and never missing
//! (`tests/it/crash.rs` kills a build at each file-system call to check it). hydrate installs no
//! signal handler: the atomic swap already makes an interrupted build harmless, and the next
//! build cleans up after it. What may be left:
//! - staging folders `out/.<env>.hydrate-XXXXXX` (hidden, gitignored): [`recover`] removes them;
//! - when a crash falls between the swaps of two environments, some environments new and others
//!   previous, each complete: the journal is still there and [`recover`] exchanges the swapped
//!   ones back first, so `out/` is all previous again before the next build writes anything.
//!
//! `hydrate build` takes the lock and runs [`recover`] before it compiles.
//!
//! ## Platforms
//!
//! - Linux: `renameat2` with `RENAME_EXCHANGE` (ext4, XFS, Btrfs, tmpfs, overlayfs, NFSv4 on
//!   recent kernels…); `RENAME_NOREPLACE` for a first build.
//! - macOS: `renameatx_np` with `RENAME_SWAP` (APFS, HFS+), `RENAME_EXCL`.
//! - Other systems, or a file system that refuses the exchange (`EINVAL`, `ENOTSUP`, `ENOSYS`):
//!   three plain renames, `out/<env>` → aside name, staging → `out/<env>`, aside → staging name.
//!   Between the first two `out/<env>` is missing: a crash there leaves it missing, with the
//!   complete previous tree under the aside name (`out/.<env>.hydrate-XXXXXX`), and the next
//!   build's [`recover`] renames it back from the journal. A failure (not a crash) in that window
//!   renames it back at once.
//!
//! ## Hard links
//!
//! Linking an unchanged file from the current `out/<env>` into the staging folder shares one
//! inode between the previous and the new tree until the previous one is removed (step 6). That
//! is safe because nothing writes these files in place: hydrate always creates new files (with
//! `O_EXCL`) and never opens an existing one for writing, git replaces files on checkout by
//! unlinking them, and the lock keeps other builds out. Only a hand edit made *in place* to a
//! file of `out/<env>` while a build runs would show in both trees; such edits are overwritten
//! by every build anyway. Only plain, non-executable files are linked, so modes stay as a fresh
//! write would make them. Linking changes each file's ctime, so git re-reads (but does not
//! report) those files once.
//!
//! ## Measurements
//!
//! `cargo bench --bench write` (8,000 files of ~1.6 KB, ext4 on a 2-core VM; numbers and the
//! choices they led to in `benches/write.rs`): a first build with its flush takes 0.45–1.45 s
//! against 2.0–3.1 s for `cp -r` of the same files; a rebuild that changes nothing 0.2–0.35 s
//! (hard links) against 2.4–2.9 s rewriting every file.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use rayon::prelude::*;

use super::Tree;
use super::journal::{self, DirId, Entry};
use super::lock::{self, OutLock};
use crate::error::OutputError;

/// Marker in staging folder names: `.<env>.hydrate-XXXXXX`.
const STAGING_MARK: &str = ".hydrate-";
/// Length of the random suffix of staging names.
const RAND_LEN: usize = 6;

/// How staged files are made durable before the swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// fsync each written file after all are written, then each folder (the default: it costs
    /// only what this build wrote).
    Fsync,
    /// One `syncfs` of the file system holding `out/` (Linux), then the folders: also flushes
    /// every other process's unwritten data on that file system. Elsewhere the same as `Fsync`.
    Syncfs,
    /// No flush: safe against a killed process, not against a power loss. For measurements.
    None,
}

/// Tuning of [`write_all_with`]; [`Options::default`] is what `hydrate build` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub flush: Flush,
    /// Hard-link files whose bytes did not change from the current `out/<env>`.
    pub link_unchanged: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            flush: Flush::Fsync,
            link_unchanged: true,
        }
    }
}

/// What [`write_all`] did, per environment in the order given.
#[derive(Debug, Default)]
pub struct Report {
    pub envs: Vec<EnvReport>,
    /// Previous trees that could not be removed after a successful swap (the next build's
    /// [`recover`] tries again): `out/`-relative names and why.
    pub not_removed: Vec<(Utf8PathBuf, std::io::Error)>,
}

#[derive(Debug)]
pub struct EnvReport {
    pub env: String,
    pub files: usize,
    /// Files hard-linked from the previous tree because their bytes did not change.
    pub linked: usize,
}

/// What [`recover`] found and did.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Environments put back to their previous tree from the journal of an interrupted build.
    pub restored: Vec<String>,
    /// Leftover folders removed, as `out/`-relative paths.
    pub removed: Vec<Utf8PathBuf>,
}

/// Replaces `out_root/<env>` with `tree`, taking the lock of `out_root` for the time of the write
/// (waiting as `HYDRATE_LOCK_TIMEOUT` says). On any error `out/<env>` is left as it was.
pub fn write(tree: &Tree, out_root: &Utf8Path, env: &str) -> Result<(), OutputError> {
    let lock = OutLock::acquire(out_root, lock::wait_from_env()?, |_| {})?;
    recover(&lock, &[env.to_string()])?;
    write_all(&lock, &[(env, tree)]).map(drop)
}

/// Replaces `out/<env>` with its tree for every `(env, tree)`, all or none (see the module doc).
pub fn write_all(lock: &OutLock, envs: &[(&str, &Tree)]) -> Result<Report, OutputError> {
    write_all_with(lock, envs, &Options::default())
}

/// [`write_all`] with explicit [`Options`] (for benchmarks).
pub fn write_all_with(lock: &OutLock, envs: &[(&str, &Tree)], opts: &Options) -> Result<Report, OutputError> {
    write_all_inner(lock.out_root(), envs, opts, swap_in)
}

/// A swap step: puts the staging folder (1st) in place of `out/<env>` (2nd).
type SwapFn = fn(&Utf8Path, &Entry) -> std::io::Result<()>;

fn write_all_inner(
    out_root: &Utf8Path,
    envs: &[(&str, &Tree)],
    opts: &Options,
    swap: SwapFn,
) -> Result<Report, OutputError> {
    let mut seen = BTreeSet::new();
    for (env, tree) in envs {
        ensure_env_name(env)?;
        if !seen.insert(*env) {
            return Err(OutputError::NotLocal {
                path: shown(env), // the same environment twice would swap it with itself
            });
        }
        for rel in tree.keys() {
            ensure_local(rel)?;
        }
    }
    // 1–2. Stage and flush; on failure remove every staging folder made so far.
    let mut staged: Vec<Staged> = Vec::new();
    let result = (|| {
        for (env, tree) in envs {
            staged.push(stage(out_root, env, tree, opts)?);
        }
        flush(out_root, &staged, opts.flush)
    })();
    if let Err(e) = result {
        remove_staging(out_root, &staged);
        return Err(e);
    }
    // 3. Journal.
    let entries: Vec<Entry> = staged.iter().map(|s| s.entry.clone()).collect();
    if let Err(source) = journal::write(out_root, &entries) {
        remove_staging(out_root, &staged);
        let _ = journal::remove(out_root);
        return Err(OutputError::Io {
            path: shown(journal::JOURNAL_FILE),
            source,
        });
    }
    // 4. Swap, undoing the swaps already made when one fails.
    for (i, entry) in entries.iter().enumerate() {
        if let Err(source) = swap(out_root, entry) {
            return Err(undo_swaps(out_root, &entries[..i], &staged, entry, source));
        }
    }
    // 5. Commit: the swaps are durable before the journal goes, and its removal is durable too.
    let commit = sync_dir(out_root)
        .and_then(|()| journal::remove(out_root))
        .and_then(|()| sync_dir(out_root));
    let mut report = Report::default();
    if let Err(source) = commit {
        // Every swap is done; only durability is in doubt. Say so rather than claim success.
        return Err(OutputError::Io {
            path: shown(journal::JOURNAL_FILE),
            source,
        });
    }
    // 6. Remove the previous trees (now under the staging names).
    for s in &staged {
        let old = out_root.join(&s.entry.staging);
        if let Err(e) = remove_tree(&old) {
            report.not_removed.push((shown(&s.entry.staging), e));
        }
        report.envs.push(EnvReport {
            env: s.entry.env.clone(),
            files: s.files,
            linked: s.linked,
        });
    }
    Ok(report)
}

/// Undoes the swaps of `done` (reverse order) after `failed` could not be swapped in, removes the
/// staging folders and keeps the journal only if something could not be undone.
fn undo_swaps(
    out_root: &Utf8Path,
    done: &[Entry],
    staged: &[Staged],
    failed: &Entry,
    source: std::io::Error,
) -> OutputError {
    for entry in done.iter().rev() {
        if let Err(restore_error) = restore(out_root, entry) {
            // Keep the journal and the staging folders: the next build's `recover` retries.
            return OutputError::Restore {
                path: shown(&failed.env),
                source,
                unrestored: shown(&entry.env),
                restore_error,
            };
        }
    }
    let _ = sync_dir(out_root);
    let _ = journal::remove(out_root);
    remove_staging(out_root, staged);
    let restored = if done.is_empty() {
        "nothing was swapped".to_string()
    } else {
        let names: Vec<String> = done.iter().map(|e| format!("`out/{}`", e.env)).collect();
        format!(
            "{} put back as {}",
            names.join(", "),
            if done.len() == 1 { "it was" } else { "they were" }
        )
    };
    OutputError::Swap {
        path: shown(&failed.env),
        source,
        restored,
    }
}

/// Takes the lock's `out/` back to a clean state after an interrupted build:
///
/// 1. if a complete journal `out/.hydrate.swap` is there, every environment it lists whose new
///    tree is in place is swapped back to its previous tree, so that all are previous again;
/// 2. removes the leftover folders directly under `out/` and nothing else: hidden folders named
///    `.<env>.hydrate-XXXXXX` (this version's staging names) and, for an environment in
///    `known_envs`, `.<env>.XXXXXX` and `.<env>.old.XXXXXX` (earlier versions' names), where
///    `XXXXXX` is six letters or digits. Files, symbolic links and other names are left alone.
pub fn recover(lock: &OutLock, known_envs: &[String]) -> Result<Recovery, OutputError> {
    let out_root = lock.out_root();
    let io = |path: Utf8PathBuf| move |source| OutputError::Io { path, source };
    let mut recovery = Recovery::default();
    if let Some(entries) = journal::read(out_root).map_err(io(shown(journal::JOURNAL_FILE)))? {
        for entry in entries.iter().rev() {
            if restore(out_root, entry).map_err(io(shown(&entry.env)))? {
                recovery.restored.push(entry.env.clone());
            }
        }
        recovery.restored.reverse();
        sync_dir(out_root).map_err(io(shown("")))?;
        journal::remove(out_root).map_err(io(shown(journal::JOURNAL_FILE)))?;
        sync_dir(out_root).map_err(io(shown("")))?;
    }
    let mut names = Vec::new();
    for dirent in fs_err::read_dir(out_root).map_err(io(shown("")))? {
        let dirent = dirent.map_err(io(shown("")))?;
        let is_dir = dirent.file_type().is_ok_and(|t| t.is_dir()); // not following links
        if let (true, Some(name)) = (is_dir, dirent.file_name().to_str())
            && is_leftover(name, known_envs)
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    let results: Vec<std::io::Result<()>> = names.iter().map(|n| remove_tree(&out_root.join(n))).collect();
    for (name, result) in names.iter().zip(results) {
        result.map_err(io(shown(name)))?;
        recovery.removed.push(shown(name));
    }
    Ok(recovery)
}

/// True for the names of hydrate's own staging folders (see [`recover`]).
pub fn is_leftover(name: &str, known_envs: &[String]) -> bool {
    let rand = |s: &str| s.len() == RAND_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    if let Some(at) = rest.rfind(STAGING_MARK) {
        let (env, suffix) = (&rest[..at], &rest[at + STAGING_MARK.len()..]);
        if !env.is_empty() && rand(suffix) {
            return true;
        }
    }
    known_envs.iter().any(|env| {
        rest.strip_prefix(env.as_str())
            .and_then(|r| r.strip_prefix('.'))
            .is_some_and(|r| rand(r) || r.strip_prefix("old.").is_some_and(rand))
    })
}

/// An environment staged and flushed, ready to swap.
struct Staged {
    entry: Entry,
    /// Paths of the files written (not linked), relative to the staging folder.
    written: Vec<Utf8PathBuf>,
    /// Folders of the tree, relative to the staging folder, parents first.
    dirs: Vec<Utf8PathBuf>,
    files: usize,
    linked: usize,
}

/// Writes `tree` into a new staging folder `out/.<env>.hydrate-XXXXXX`.
fn stage(out_root: &Utf8Path, env: &str, tree: &Tree, opts: &Options) -> Result<Staged, OutputError> {
    let target = out_root.join(env);
    let staging = new_name(out_root, env, true)?;
    let aside = new_name(out_root, env, false)?;
    let dir = out_root.join(&staging);
    let filled = fill(&dir, &target, env, staging, aside, tree, opts);
    if filled.is_err() {
        let _ = remove_tree(&dir);
    }
    filled
}

/// Step 1 for one environment, into the staging folder `dir` (named `staging`).
fn fill(
    dir: &Utf8Path,
    target: &Utf8Path,
    env: &str,
    staging: String,
    aside: String,
    tree: &Tree,
    opts: &Options,
) -> Result<Staged, OutputError> {
    let io = |rel: &Utf8Path| {
        let path = shown(env).join(rel);
        move |source| OutputError::Io { path, source }
    };
    let new_id = dir_id(dir).map_err(io(Utf8Path::new("")))?;
    let mut staged = Staged {
        entry: Entry {
            env: env.to_string(),
            staging,
            aside,
            new_id,
            fresh: fs_err::symlink_metadata(target).is_err(),
        },
        written: Vec::new(),
        dirs: Vec::new(),
        files: tree.len(),
        linked: 0,
    };
    // Folders once each, parents before children (a path sorts before its descendants).
    let mut dirs: BTreeSet<&Utf8Path> = BTreeSet::new();
    for rel in tree.keys() {
        let mut parent = rel.parent();
        while let Some(d) = parent.filter(|d| !d.as_str().is_empty()) {
            if !dirs.insert(d) {
                break; // its ancestors are in already
            }
            parent = d.parent();
        }
    }
    for d in &dirs {
        std::fs::create_dir(dir.join(d)).map_err(io(d))?;
    }
    staged.dirs = dirs.into_iter().map(Utf8Path::to_owned).collect();
    // Files in parallel; results (and the first error) in path order.
    let files: Vec<(&Utf8PathBuf, &Vec<u8>)> = tree.iter().collect();
    let linked: Vec<Result<bool, OutputError>> = files
        .par_iter()
        .map(|(rel, bytes)| {
            let new = dir.join(rel);
            if opts.link_unchanged
                && unchanged(&target.join(rel), bytes)
                && std::fs::hard_link(target.join(rel), &new).is_ok()
            {
                return Ok(true);
            }
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&new)
                .map_err(io(rel))?;
            file.write_all(bytes).map_err(io(rel))?;
            Ok(false)
        })
        .collect();
    for ((rel, _), linked) in files.iter().zip(linked) {
        if linked? {
            staged.linked += 1;
        } else {
            staged.written.push((*rel).clone());
        }
    }
    Ok(staged)
}

/// True when `old` is a plain, non-executable file holding exactly `bytes`.
fn unchanged(old: &Utf8Path, bytes: &[u8]) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(old) else {
        return false;
    };
    #[cfg(unix)]
    let plain = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o7111 == 0
    };
    #[cfg(not(unix))]
    let plain = true;
    meta.is_file()
        && plain
        && meta.len() == bytes.len() as u64
        && std::fs::read(old).is_ok_and(|b| b == bytes)
}

/// Step 2: makes every staged file and folder durable.
fn flush(out_root: &Utf8Path, staged: &[Staged], how: Flush) -> Result<(), OutputError> {
    if how == Flush::None {
        return Ok(());
    }
    let mut synced_fs = false;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if how == Flush::Syncfs {
        let dir = File::open(out_root).map_err(|source| OutputError::Io {
            path: shown(""),
            source,
        })?;
        rustix::fs::syncfs(&dir).map_err(|e| OutputError::Io {
            path: shown(""),
            source: e.into(),
        })?;
        synced_fs = true;
    }
    let mut jobs: Vec<(&str, Utf8PathBuf, Utf8PathBuf)> = Vec::new(); // (env, shown path, real path)
    for s in staged {
        let dir = out_root.join(&s.entry.staging);
        if !synced_fs {
            for rel in &s.written {
                jobs.push((&s.entry.env, rel.clone(), dir.join(rel)));
            }
        }
        for rel in &s.dirs {
            jobs.push((&s.entry.env, rel.clone(), dir.join(rel)));
        }
        jobs.push((&s.entry.env, Utf8PathBuf::new(), dir));
    }
    let sync = || {
        jobs.par_iter().try_for_each(|(env, rel, path)| {
            File::open(path)
                .and_then(|f| f.sync_all())
                .map_err(|source| OutputError::Io {
                    path: shown(env).join(rel),
                    source,
                })
        })
    };
    // fsync waits on the disk, not the CPU: more threads than cores let the file system batch
    // them into fewer journal commits (measured: 8,000 files, 2 cores, 1.2 s with 2 threads,
    // 0.6 s with 8). `-j 1` keeps everything on one thread.
    let threads = rayon::current_num_threads();
    if threads == 1 {
        return sync();
    }
    match rayon::ThreadPoolBuilder::new()
        .num_threads((threads * 4).max(8))
        .build()
    {
        Ok(pool) => pool.install(sync),
        Err(_) => sync(),
    }
}

/// Step 4 for one environment: the staging folder takes the place of `out/<env>`, and the previous
/// tree (if any) the staging name.
fn swap_in(out_root: &Utf8Path, entry: &Entry) -> std::io::Result<()> {
    let staging = out_root.join(&entry.staging);
    let target = out_root.join(&entry.env);
    if entry.fresh {
        return sys::rename_noreplace(&staging, &target);
    }
    exchange_or_fallback(out_root, entry, &staging, &target)
}

/// Exchanges `a` and `b`; where the platform or file system cannot, three renames through the
/// entry's aside name (with the window described in the module doc).
fn exchange_or_fallback(
    out_root: &Utf8Path,
    entry: &Entry,
    a: &Utf8Path,
    b: &Utf8Path,
) -> std::io::Result<()> {
    match sys::exchange(a, b) {
        Err(e) if sys::exchange_unsupported(&e) => {
            let aside = out_root.join(&entry.aside);
            sys::rename_noreplace(b, &aside)?;
            if let Err(e) = sys::rename_noreplace(a, b) {
                let _ = sys::rename_noreplace(&aside, b);
                return Err(e);
            }
            sys::rename_noreplace(&aside, a)
        }
        other => other,
    }
}

/// Puts `entry`'s previous tree back in `out/<env>` if its swap happened (in full or, with the
/// fallback, in part); returns whether anything was changed.
fn restore(out_root: &Utf8Path, entry: &Entry) -> std::io::Result<bool> {
    let staging = out_root.join(&entry.staging);
    let target = out_root.join(&entry.env);
    let aside = out_root.join(&entry.aside);
    let new_in_place = dir_id(&target).ok() == Some(entry.new_id);
    let exists = |p: &Utf8Path| fs_err::symlink_metadata(p).is_ok();
    if new_in_place {
        if entry.fresh {
            sys::rename_noreplace(&target, &staging)?; // there was no previous tree
        } else if exists(&aside) {
            // The fallback stopped after its second rename.
            sys::rename_noreplace(&target, &staging)?;
            sys::rename_noreplace(&aside, &target)?;
        } else {
            exchange_or_fallback(out_root, entry, &staging, &target)?;
        }
        return Ok(true);
    }
    if !entry.fresh && !exists(&target) && exists(&aside) {
        sys::rename_noreplace(&aside, &target)?; // the fallback stopped after its first rename
        return Ok(true);
    }
    Ok(false)
}

/// Creates (`create`) or just picks a free name `.<env>.hydrate-XXXXXX` directly under `out_root`.
fn new_name(out_root: &Utf8Path, env: &str, create: bool) -> Result<String, OutputError> {
    let io = |source| OutputError::Io {
        path: shown(""),
        source,
    };
    let prefix = format!(".{env}{STAGING_MARK}");
    let made = tempfile::Builder::new()
        .prefix(&prefix)
        .rand_bytes(RAND_LEN)
        .tempdir_in(out_root)
        .map_err(io)?;
    let path = made.keep();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("tempfile names are the UTF-8 prefix plus ASCII letters and digits")
        .to_string();
    if !create {
        // Only the name is wanted; the folder goes (the lock keeps anyone else from taking it).
        std::fs::remove_dir(&path).map_err(io)?;
    }
    Ok(name)
}

/// Removes staging folders after a failure, ignoring errors (the next build's `recover` retries).
fn remove_staging(out_root: &Utf8Path, staged: &[Staged]) {
    for s in staged {
        let _ = remove_tree(&out_root.join(&s.entry.staging));
    }
}

/// Removes the tree at `path` without following symbolic links: files in parallel, then folders
/// deepest first. A symbolic link or file at `path` itself is removed as such.
pub fn remove_tree(path: &Utf8Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in walkdir::WalkDir::new(path)
        .follow_links(false)
        .contents_first(true)
    {
        let entry = entry.map_err(|e| {
            e.into_io_error()
                .unwrap_or_else(|| std::io::Error::other("file system loop"))
        })?;
        if entry.file_type().is_dir() {
            dirs.push(entry.into_path());
        } else {
            files.push(entry.into_path());
        }
    }
    files.par_iter().try_for_each(std::fs::remove_file)?;
    dirs.iter().try_for_each(std::fs::remove_dir) // contents first: children before parents
}

/// fsync of a folder (on Unix; elsewhere folders cannot be opened for it and this does nothing).
pub(crate) fn sync_dir(dir: &Utf8Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A folder's (device, inode); `(0, 0)` where the platform has none (recovery then skips it).
fn dir_id(path: &Utf8Path) -> std::io::Result<DirId> {
    let meta = std::fs::symlink_metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok((0, 0))
    }
}

/// `out/<rel>`, how messages name things under `out/` (never an absolute path).
fn shown(rel: impl AsRef<Utf8Path>) -> Utf8PathBuf {
    let rel = rel.as_ref();
    if rel.as_str().is_empty() {
        Utf8PathBuf::from("out")
    } else {
        Utf8Path::new("out").join(rel)
    }
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

/// An environment is one plain, visible path component without control characters (the journal
/// is tab- and line-separated).
fn ensure_env_name(env: &str) -> Result<(), OutputError> {
    let env_path = Utf8Path::new(env);
    ensure_local(env_path)?;
    if env_path.components().count() != 1 || env.starts_with('.') || env.chars().any(char::is_control) {
        return Err(OutputError::NotLocal { path: shown(env) });
    }
    Ok(())
}

/// The atomic renames, per platform.
mod sys {
    use camino::Utf8Path;

    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    pub fn exchange(a: &Utf8Path, b: &Utf8Path) -> std::io::Result<()> {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        renameat_with(CWD, a.as_std_path(), CWD, b.as_std_path(), RenameFlags::EXCHANGE).map_err(Into::into)
    }

    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    pub fn rename_noreplace(from: &Utf8Path, to: &Utf8Path) -> std::io::Result<()> {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(
            CWD,
            from.as_std_path(),
            CWD,
            to.as_std_path(),
            RenameFlags::NOREPLACE,
        ) {
            Err(e) if exchange_unsupported(&e.into()) => plain_noreplace(from, to),
            other => other.map_err(Into::into),
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    pub fn exchange(_a: &Utf8Path, _b: &Utf8Path) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    pub fn rename_noreplace(from: &Utf8Path, to: &Utf8Path) -> std::io::Result<()> {
        plain_noreplace(from, to)
    }

    /// A plain rename that refuses an existing target (checked first; the lock keeps other
    /// builds out, so nothing appears in between).
    fn plain_noreplace(from: &Utf8Path, to: &Utf8Path) -> std::io::Result<()> {
        if std::fs::symlink_metadata(to).is_ok() {
            return Err(std::io::ErrorKind::AlreadyExists.into());
        }
        std::fs::rename(from, to)
    }

    /// The file system or platform has no atomic exchange (or no-replace rename).
    pub fn exchange_unsupported(e: &std::io::Error) -> bool {
        const EINVAL: i32 = 22;
        const ENOSYS: i32 = 38;
        e.kind() == std::io::ErrorKind::Unsupported || matches!(e.raw_os_error(), Some(EINVAL | ENOSYS)) || {
            #[cfg(unix)]
            {
                e.raw_os_error() == Some(rustix::io::Errno::NOTSUP.raw_os_error())
            }
            #[cfg(not(unix))]
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::tree_of as tree;

    fn out_dir(tmp: &tempfile::TempDir) -> Utf8PathBuf {
        Utf8Path::from_path(tmp.path()).unwrap().join("out")
    }

    fn names(dir: &Utf8Path) -> Vec<String> {
        let mut v: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn swaps_the_whole_tree_and_removes_stale_files() {
        let tmp = tempfile::tempdir().unwrap();
        let out = out_dir(&tmp);
        write(&tree(&[("a/x.yaml", "1"), ("b.yaml", "2")]), &out, "prod").unwrap();
        write(&tree(&[("a/y.yaml", "3")]), &out, "prod").unwrap();
        assert!(!out.join("prod/a/x.yaml").exists());
        assert!(!out.join("prod/b.yaml").exists());
        assert_eq!(fs_err::read_to_string(out.join("prod/a/y.yaml")).unwrap(), "3");
        assert_eq!(
            names(&out),
            vec!["prod"],
            "no staging folder, journal or lock is left behind"
        );
    }

    #[test]
    fn refuses_paths_that_leave_the_env_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let out = out_dir(&tmp);
        write(&tree(&[("keep.yaml", "old")]), &out, "prod").unwrap();
        let err = write(&tree(&[("../evil.yaml", "x")]), &out, "prod").unwrap_err();
        assert!(matches!(err, OutputError::NotLocal { .. }));
        for env in ["../x", ".hidden", "a/b", ""] {
            assert!(write(&tree(&[("a.yaml", "x")]), &out, env).is_err(), "{env}");
        }
        assert_eq!(fs_err::read_to_string(out.join("prod/keep.yaml")).unwrap(), "old");
        assert!(!out.join("evil.yaml").exists());
    }

    #[test]
    fn unchanged_files_are_linked_and_changed_ones_written() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let out = out_dir(&tmp);
        let lock = OutLock::acquire(&out, std::time::Duration::ZERO, |_| {}).unwrap();
        write_all(
            &lock,
            &[("prod", &tree(&[("same.yaml", "s"), ("diff.yaml", "1")]))],
        )
        .unwrap();
        let ino = |p: &str| fs_err::metadata(out.join(p)).unwrap().ino();
        let (same, diff) = (ino("prod/same.yaml"), ino("prod/diff.yaml"));
        let report = write_all(
            &lock,
            &[("prod", &tree(&[("same.yaml", "s"), ("diff.yaml", "2")]))],
        )
        .unwrap();
        assert_eq!((report.envs[0].files, report.envs[0].linked), (2, 1));
        assert_eq!(ino("prod/same.yaml"), same, "unchanged bytes: the same file");
        assert_ne!(ino("prod/diff.yaml"), diff);
        assert_eq!(fs_err::read_to_string(out.join("prod/diff.yaml")).unwrap(), "2");
        assert_eq!(
            fs_err::metadata(out.join("prod/same.yaml")).unwrap().nlink(),
            1,
            "the previous tree is gone"
        );
    }

    #[test]
    fn a_failure_staging_the_second_environment_swaps_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = out_dir(&tmp);
        let lock = OutLock::acquire(&out, std::time::Duration::ZERO, |_| {}).unwrap();
        write_all(
            &lock,
            &[
                ("dev", &tree(&[("a.yaml", "dev1")])),
                ("prod", &tree(&[("a.yaml", "prod1")])),
            ],
        )
        .unwrap();
        let long = format!("{}.yaml", "x".repeat(300)); // ENAMETOOLONG from the file system
        let err = write_all(
            &lock,
            &[
                ("dev", &tree(&[("a.yaml", "dev2")])),
                ("prod", &tree(&[(long.as_str(), "prod2")])),
            ],
        )
        .unwrap_err();
        assert!(matches!(err, OutputError::Io { .. }), "{err:?}");
        assert_eq!(fs_err::read_to_string(out.join("dev/a.yaml")).unwrap(), "dev1");
        assert_eq!(fs_err::read_to_string(out.join("prod/a.yaml")).unwrap(), "prod1");
        assert_eq!(names(&out), vec![".hydrate.lock", "dev", "prod"]);
    }

    #[test]
    fn a_failed_swap_puts_back_the_environments_already_swapped() {
        fn fail_prod(out_root: &Utf8Path, entry: &Entry) -> std::io::Result<()> {
            if entry.env == "prod" {
                return Err(std::io::Error::from_raw_os_error(18)); // EXDEV
            }
            swap_in(out_root, entry)
        }
        let tmp = tempfile::tempdir().unwrap();
        let out = out_dir(&tmp);
        let lock = OutLock::acquire(&out, std::time::Duration::ZERO, |_| {}).unwrap();
        write_all(
            &lock,
            &[
                ("dev", &tree(&[("a.yaml", "dev1")])),
                ("prod", &tree(&[("a.yaml", "prod1")])),
            ],
        )
        .unwrap();
        let err = write_all_inner(
            &out,
            &[
                ("dev", &tree(&[("a.yaml", "dev2")])),
                ("prod", &tree(&[("a.yaml", "prod2")])),
            ],
            &Options::default(),
            fail_prod,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`out/prod`") && text.contains("`out/dev` put back"),
            "{text}"
        );
        assert_eq!(fs_err::read_to_string(out.join("dev/a.yaml")).unwrap(), "dev1");
        assert_eq!(fs_err::read_to_string(out.join("prod/a.yaml")).unwrap(), "prod1");
        assert_eq!(names(&out), vec![".hydrate.lock", "dev", "prod"]);
    }

    #[test]
    fn recover_undoes_a_swap_cut_short_by_a_crash() {
        fn stop_at_prod(out_root: &Utf8Path, entry: &Entry) -> std::io::Result<()> {
            if entry.env == "prod" {
                // Simulates a crash: no undo runs because the process "dies" here.
                std::panic::panic_any("crash");
            }
            swap_in(out_root, entry)
        }
        let tmp = tempfile::tempdir().unwrap();
        let out = out_dir(&tmp);
        let lock = OutLock::acquire(&out, std::time::Duration::ZERO, |_| {}).unwrap();
        write_all(
            &lock,
            &[
                ("dev", &tree(&[("a.yaml", "dev1")])),
                ("prod", &tree(&[("a.yaml", "prod1")])),
            ],
        )
        .unwrap();
        let (dev2, prod2) = (tree(&[("a.yaml", "dev2")]), tree(&[("a.yaml", "prod2")]));
        let crashed = std::panic::catch_unwind(|| {
            write_all_inner(
                &out,
                &[("dev", &dev2), ("prod", &prod2)],
                &Options::default(),
                stop_at_prod,
            )
        });
        assert!(crashed.is_err());
        assert_eq!(
            fs_err::read_to_string(out.join("dev/a.yaml")).unwrap(),
            "dev2",
            "mixed until recovery"
        );
        let recovery = recover(&lock, &[]).unwrap();
        assert_eq!(recovery.restored, vec!["dev"]);
        assert_eq!(recovery.removed.len(), 2, "{recovery:?}");
        assert_eq!(fs_err::read_to_string(out.join("dev/a.yaml")).unwrap(), "dev1");
        assert_eq!(fs_err::read_to_string(out.join("prod/a.yaml")).unwrap(), "prod1");
        assert_eq!(names(&out), vec![".hydrate.lock", "dev", "prod"]);
    }

    #[test]
    fn recover_removes_only_hydrate_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let out = out_dir(&tmp);
        for d in [
            ".prod.hydrate-a1B2c3",
            ".dev.abc123",
            ".dev.old.XyZ789",
            ".unknown.abc123",
            ".keep-dir",
            "other",
            ".prod.hydrate-toolong1",
        ] {
            fs_err::create_dir_all(out.join(d).join("sub")).unwrap();
            fs_err::write(out.join(d).join("sub/f.yaml"), "x").unwrap();
        }
        fs_err::write(out.join(".keep"), "").unwrap();
        fs_err::write(out.join(".prod.hydrate-fileAB"), "a file, not a folder").unwrap();
        fs_err::write(out.join("README.md"), "mine").unwrap();
        let lock = OutLock::acquire(&out, std::time::Duration::ZERO, |_| {}).unwrap();
        let recovery = recover(&lock, &["dev".to_string(), "prod".to_string()]).unwrap();
        assert_eq!(
            recovery.removed,
            vec![
                "out/.dev.abc123",
                "out/.dev.old.XyZ789",
                "out/.prod.hydrate-a1B2c3"
            ]
        );
        assert_eq!(
            names(&out),
            vec![
                ".hydrate.lock",
                ".keep",
                ".keep-dir",
                ".prod.hydrate-fileAB",
                ".prod.hydrate-toolong1",
                ".unknown.abc123",
                "README.md",
                "other"
            ]
        );
    }

    #[test]
    fn leftover_names() {
        let envs = ["prod".to_string(), "prod.eu".to_string()];
        for yes in [
            ".prod.hydrate-abc123",
            ".prod.eu.hydrate-ABC123",
            ".gone.hydrate-000000",
            ".prod.abc123",
            ".prod.old.abc123",
            ".prod.eu.zzzzzz",
        ] {
            assert!(is_leftover(yes, &envs), "{yes}");
        }
        for no in [
            "prod",
            ".prod",
            ".keep",
            ".hydrate.lock",
            ".hydrate.swap",
            ".prod.hydrate-abc12",
            ".prod.hydrate-abc-12",
            ".hydrate-abc123",
            ".qa.abc123",
            ".prod.abc1234",
            "prod.hydrate-abc123",
        ] {
            assert!(!is_leftover(no, &envs), "{no}");
        }
    }
}
