//! The one integration-test binary (ripgrep, jj, uv style): one module per property.

mod support;

mod cli;
mod determinism;
mod edge;
mod golden;
mod kustomize;
mod safety;
mod schema;
