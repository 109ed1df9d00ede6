//! Step 6 of `hydrate lock --download`: fetch each chart archive, verify its sha256 against the
//! index, and record what it holds.

use super::archive;
use super::fetch::{self, RepoKind};
use super::oci::Manifest;
use super::resolve::Resolver;
use super::{LockEntry, LockError};

/// `--download` for one entry: fetch, verify against the lock's digest, inspect.
pub(super) fn download(
    ctx: &Resolver<'_>,
    entry: &LockEntry,
    manifest: Option<&Manifest>,
) -> Result<archive::Inspection, LockError> {
    let (url, bytes) = match fetch::classify(&entry.repo, ctx.root)? {
        RepoKind::Oci { .. } => {
            let chart = ctx.oci(&entry.repo, &entry.chart)?;
            let fetched;
            let manifest = match manifest {
                Some(m) => m,
                None => {
                    fetched = chart.manifest(&entry.version)?;
                    &fetched
                }
            };
            if entry.digest.is_some() && entry.digest.as_deref() != Some(manifest.digest.as_str()) {
                return Err(LockError::DigestMismatch {
                    url: format!("{}/{}:{}", entry.repo, entry.chart, entry.version),
                    expected: entry.digest.clone().unwrap_or_default(),
                    actual: manifest.digest.clone(),
                });
            }
            let Some(layer) = &manifest.layer else {
                return Err(LockError::Oci {
                    reference: chart.reference(),
                    reason: format!("`{}` has no Helm chart layer", entry.version),
                });
            };
            // `blob` checks the layer bytes against the digest the verified manifest names.
            (chart.reference(), chart.blob(layer)?)
        }
        _ => {
            let Some(url) = &entry.url else {
                return Err(LockError::NoUrl {
                    chart: entry.chart.clone(),
                    version: entry.version.clone(),
                });
            };
            let bytes = fetch::fetch_archive(&ctx.http, url, ctx.root)?;
            archive::verify(url, &bytes, entry.digest.as_deref())?;
            (url.clone(), bytes)
        }
    };
    archive::inspect(&bytes).map_err(|reason| LockError::Archive { url, reason })
}
