//! `hydrate lock`: collects every chart reference of every environment and resolves them.

use camino::Utf8Path;

use crate::error::Error;
use crate::lock::{ChartRequest, LockArgs};
use crate::{Outcome, model};

pub fn run(root: &Utf8Path, args: &LockArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let requests = chart_requests(&inputs)?;
    match crate::lock::run(root, args, &requests)? {
        0 => Ok(Outcome::Clean),
        _ => Ok(Outcome::Findings),
    }
}

/// One request per chart of every enabled component of every environment (duplicates share an entry).
pub fn chart_requests(inputs: &crate::load::Inputs) -> Result<Vec<ChartRequest>, Error> {
    let mut requests = Vec::new();
    for env in inputs.env_names() {
        let model = model::resolve(inputs, &env)?;
        for component in &model.components {
            if let Some(chart) = &component.chart {
                requests.push(ChartRequest::from_chart(&component.name, chart));
            }
        }
    }
    Ok(requests)
}
