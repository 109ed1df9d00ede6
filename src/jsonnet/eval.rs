//! One evaluation on the current thread: builds the `jrsonnet` state, binds the context, runs.
//!
//! Everything `jrsonnet` hands out is `!Send`; only `serde_json` values and [`JsonnetError`]s leave
//! this file.

#[allow(
    clippy::disallowed_types,
    reason = "jrsonnet's `apply_tla` takes a HashMap; see `call`"
)]
use std::collections::HashMap;
use std::path::PathBuf;

use camino::{Utf8Path, Utf8PathBuf};
use jrsonnet_evaluator::function::FuncVal;
use jrsonnet_evaluator::tla::TlaArg;
use jrsonnet_evaluator::trace::PathResolver;
use jrsonnet_evaluator::{IStr, SourcePath, State, Val, apply_tla};
use jrsonnet_ir::SourceFile;

use super::error::{self, JsonnetError};
use super::resolver::RepoResolver;
use super::{CONTEXT_NAMES, JsonnetContext, Limits, convert};

/// Everything one evaluation needs, owned, so it can move to the evaluation thread.
#[derive(Debug)]
pub(super) struct Job {
    /// Canonical absolute repository root.
    root: PathBuf,
    /// Repo-relative path of the entry file, as the caller named it.
    file: Utf8PathBuf,
    /// Canonical absolute path of the entry file.
    entry: PathBuf,
    ctx: JsonnetContext,
    max_stack: usize,
}

impl Job {
    /// Checks `root` and `file` on disk and captures everything the evaluation thread needs.
    pub(super) fn new(
        root: &Utf8Path,
        file: &Utf8Path,
        ctx: &JsonnetContext,
        limits: &Limits,
    ) -> Result<Self, JsonnetError> {
        let canonical_root = fs_err::canonicalize(root).map_err(|source| JsonnetError::Root { source })?;
        let entry = fs_err::canonicalize(root.join(file)).map_err(|source| JsonnetError::Missing {
            file: file.to_owned(),
            source,
        })?;
        if !entry.starts_with(&canonical_root) || file.is_absolute() {
            return Err(JsonnetError::EntryOutsideRoot {
                file: file.to_owned(),
            });
        }
        Ok(Self {
            root: canonical_root,
            file: file.to_owned(),
            entry,
            ctx: ctx.clone(),
            max_stack: limits.max_stack,
        })
    }

    /// Evaluates the entry file and normalises its result; call on a thread of its own.
    pub(super) fn run(self) -> Result<Vec<serde_json::Value>, JsonnetError> {
        let _depth = jrsonnet_evaluator::stack::limit_stack_depth(self.max_stack);
        let resolver = RepoResolver::new(self.root.clone());
        let failures = resolver.failures();
        let stdlib = jrsonnet_stdlib::ContextInitializer::new(PathResolver::Relative(self.root.clone()));
        let args = self.context_args();
        for (name, value) in &args {
            stdlib.add_ext_var(name.clone(), value.clone());
        }
        let mut builder = State::builder();
        builder.import_resolver(resolver).context_initializer(stdlib);
        let state = builder.build();
        let _entered = state.enter();

        let to_error = |err: &jrsonnet_evaluator::Error| {
            error::from_jrsonnet(err, &self.root, &self.file, &failures.borrow(), self.max_stack)
        };
        let entry = SourcePath::new(SourceFile::new(self.entry.clone()));
        let value = state.import_resolved(entry).map_err(|e| to_error(&e))?;
        let value = match value {
            Val::Func(func) => self.call(&func, &args).map_err(|e| match e {
                CallError::Eval(e) => to_error(&e),
                CallError::Unknown(param) => JsonnetError::UnknownParameter {
                    file: self.file.clone(),
                    param,
                },
            })?,
            other => other,
        };
        let json = convert::to_json(&value).map_err(|e| to_error(&e))?;
        convert::objects(json, &self.file)
    }

    /// The context as Jsonnet values, keyed by [`CONTEXT_NAMES`].
    fn context_args(&self) -> Vec<(IStr, Val)> {
        let ctx = &self.ctx;
        let fields: [(&str, Val); 5] = [
            ("env", Val::string(ctx.env.as_str())),
            ("root_domain", Val::string(ctx.root_domain.as_str())),
            ("features", convert::from_json(&ctx.features)),
            ("values", convert::from_json(&ctx.values)),
            ("components", convert::from_json(&ctx.components)),
        ];
        debug_assert!(fields.iter().map(|f| f.0).eq(CONTEXT_NAMES));
        fields.into_iter().map(|(k, v)| (k.into(), v)).collect()
    }

    /// Calls a top-level function with the context arguments it names.
    #[allow(
        clippy::disallowed_types,
        clippy::mutable_key_type,
        reason = "`apply_tla` takes a HashMap of interned names; it binds by name, so order never shows"
    )]
    fn call(&self, func: &FuncVal, args: &[(IStr, Val)]) -> Result<Val, CallError> {
        let mut tla: HashMap<IStr, TlaArg> = HashMap::new();
        for param in func.params().iter() {
            let Some(name) = param.name().as_str() else {
                continue;
            };
            match args.iter().find(|(k, _)| k.as_str() == name) {
                Some((k, v)) => {
                    tla.insert(k.clone(), TlaArg::Val(v.clone()));
                }
                None if param.has_default() => {}
                None => return Err(CallError::Unknown(name.to_owned())),
            }
        }
        apply_tla(&tla, Val::Func(func.clone())).map_err(CallError::Eval)
    }
}

/// Why calling the top-level function failed.
enum CallError {
    Eval(jrsonnet_evaluator::Error),
    /// A parameter without a default that hydrate does not supply.
    Unknown(String),
}
