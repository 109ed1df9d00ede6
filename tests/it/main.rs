//! The one integration-test binary (ripgrep, jj, uv style): one module per property.

mod support;

mod apps;
mod cli;
mod determinism;
mod golden;
mod kustomize;
mod safety;
mod schema;
