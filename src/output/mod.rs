//! Output stage: lays rendered objects out as a [`Tree`] of files and writes it.
//!
//! Only `write.rs` touches the disk.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;

/// A rendered environment: repo-relative-to-`out/<env>` path → file bytes, in path order.
///
/// Paths use `/` separators and never contain `..`, a root, or an empty component.
pub type Tree = BTreeMap<Utf8PathBuf, Vec<u8>>;
