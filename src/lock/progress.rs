//! Progress of `hydrate lock`, reported to whoever shows it: the command draws a bar on a
//! terminal; the lock stage itself prints nothing.

/// Progress of a long run, reported to whoever shows it (the `lock` command draws a bar on a
/// terminal); the lock stage itself prints nothing.
pub trait Progress: Sync {
    /// `charts` charts, `steps` units of work in all, starting.
    fn start(&self, charts: usize, steps: usize);
    /// The current step, e.g. `fetching indexes`.
    fn step(&self, message: &'static str);
    /// One unit of work done.
    fn inc(&self);
    /// The run is over (successfully or not).
    fn finish(&self);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: usize, _: usize) {}
    fn step(&self, _: &'static str) {}
    fn inc(&self) {}
    fn finish(&self) {}
}
