//! hydrate: a static GitOps manifest compiler.
//!
//! The pipeline reads top to bottom: load → resolve → render → lint → write / diff.

pub mod jsonnet;
pub mod output;
