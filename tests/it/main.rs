//! The one integration-test binary (ripgrep, jj, uv style): one module per property.

mod support;

mod apps;
mod cli;
mod crash;
mod data;
mod determinism;
mod edge;
mod golden;
mod jsonnet;
mod kustomize;
mod lint;
mod lock;
mod network_policies;
mod review;
mod safety;
mod schema;
mod secrets;
