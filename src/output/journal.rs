//! Output stage: the swap journal `out/.hydrate.swap`. Touches only that file.
//!
//! Written (and flushed) just before the first environment is swapped in and removed once every
//! swap is durable, it lets the next build undo a multi-environment swap that a crash cut short
//! (see [`super::write::recover`]). It names each staging folder and the identity (device, inode)
//! of the new tree, so that recovery can tell whether a swap happened without guessing from
//! contents. A journal without its closing `end` line was cut short before any swap began: it is
//! ignored and removed.

use std::io::Write;

use camino::Utf8Path;

/// The journal's name directly under `out/` (hidden and gitignored like the lock).
pub const JOURNAL_FILE: &str = ".hydrate.swap";

const HEADER: &str = "hydrate swap journal v1";

/// A directory's identity: (device, inode).
pub type DirId = (u64, u64);

/// One environment about to be swapped in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub env: String,
    /// Staging folder name under `out/`: holds the new tree before the swap, the old one after.
    pub staging: String,
    /// A free name under `out/` for the old tree, used only by the two-rename fallback.
    pub aside: String,
    /// Identity of the staging folder (the new tree).
    pub new_id: DirId,
    /// `out/<env>` did not exist: the swap is a plain rename.
    pub fresh: bool,
}

/// Writes the journal and flushes it (file and `out/`).
pub fn write(out_root: &Utf8Path, entries: &[Entry]) -> std::io::Result<()> {
    let mut text = format!("{HEADER}\n");
    for e in entries {
        text.push_str(&format!(
            "swap\t{}\t{}\t{}\t{}\t{}\t{}\n",
            e.env,
            e.staging,
            e.aside,
            e.new_id.0,
            e.new_id.1,
            if e.fresh { "fresh" } else { "exchange" }
        ));
    }
    text.push_str("end\n");
    let mut file = std::fs::File::create(out_root.join(JOURNAL_FILE))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    super::write::sync_dir(out_root)
}

/// The entries of a complete journal; empty when there is none or it was cut short.
pub fn read(out_root: &Utf8Path) -> std::io::Result<Option<Vec<Entry>>> {
    let text = match fs_err::read_to_string(out_root.join(JOURNAL_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(parse(&text).unwrap_or_default()))
}

/// Removes the journal, if any.
pub fn remove(out_root: &Utf8Path) -> std::io::Result<()> {
    match fs_err::remove_file(out_root.join(JOURNAL_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `None` unless the text is a whole journal (header, entries, `end`).
fn parse(text: &str) -> Option<Vec<Entry>> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut entries = Vec::new();
    for line in lines {
        if line == "end" {
            return Some(entries);
        }
        let f: Vec<&str> = line.split('\t').collect();
        let [tag, env, staging, aside, dev, ino, kind] = f.as_slice() else {
            return None;
        };
        if *tag != "swap" || !matches!(*kind, "fresh" | "exchange") {
            return None;
        }
        entries.push(Entry {
            env: (*env).to_string(),
            staging: (*staging).to_string(),
            aside: (*aside).to_string(),
            new_id: (dev.parse().ok()?, ino.parse().ok()?),
            fresh: *kind == "fresh",
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_a_journal_cut_short() {
        let tmp = tempfile::tempdir().unwrap();
        let out = Utf8Path::from_path(tmp.path()).unwrap();
        let entries = vec![Entry {
            env: "prod".into(),
            staging: ".prod.hydrate-abc123".into(),
            aside: ".prod.hydrate-def456".into(),
            new_id: (1, 42),
            fresh: false,
        }];
        write(out, &entries).unwrap();
        assert_eq!(read(out).unwrap(), Some(entries));
        let text = fs_err::read_to_string(out.join(JOURNAL_FILE)).unwrap();
        for cut in 0..text.len() - 1 {
            assert_eq!(parse(&text[..cut]), None, "cut at {cut}");
        }
        remove(out).unwrap();
        assert_eq!(read(out).unwrap(), None);
    }
}
