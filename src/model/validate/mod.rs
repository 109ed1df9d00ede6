//! Input validation that needs more than one field's type: a component's `workload`, the
//! environment's `backup` settings. Every problem is reported at once, each at the YAML path of
//! the offending key, so one build lists everything to fix. Runs at the end of
//! [`crate::model::resolve`]; the generators render only what passed.
//!
//! Pure: no disk.

pub mod backup;
pub mod workload;

use crate::span::YamlPath;

/// One problem: where (a YAML path in a known file), what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: YamlPath,
    pub message: String,
    pub help: String,
}

/// Problems of one file, in the order found.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, path: impl Into<YamlPath>, message: String, help: String) {
        self.0.push(Problem {
            path: path.into(),
            message,
            help,
        });
    }
}
