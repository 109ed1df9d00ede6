//! One identity, one object: two objects with the same API group, kind, namespace and name in
//! one environment are an error naming both sources. Flux would apply both and flap between
//! them; the second silently overwrites the first. Pure.

use std::collections::BTreeMap;

use super::Object;
use crate::error::{InputError, RenderError};
use crate::span::Location;

/// Refuses every identity written twice (SOPS files copied verbatim included).
pub fn refuse_duplicates(objects: &[Object]) -> Result<(), RenderError> {
    let mut first: BTreeMap<(String, String, Option<String>, String), &Object> = BTreeMap::new();
    let mut errors = Vec::new();
    for object in objects {
        let id = object.identity();
        let key = (
            id.group().to_string(),
            id.kind.clone(),
            id.namespace.clone(),
            id.name.clone(),
        );
        match first.get(&key) {
            None => {
                first.insert(key, object);
            }
            Some(earlier) => {
                let files = |o: &Object| {
                    o.sources
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let at = object
                    .sources
                    .last()
                    .cloned()
                    .map(Location::file)
                    .unwrap_or_else(|| Location::file("out"));
                errors.push(RenderError::from(
                    InputError::new(
                        at,
                        None,
                        format!(
                            "{id} is written twice: from {} and from {}",
                            files(earlier),
                            files(object)
                        ),
                    )
                    .with_help(
                        "keep one of them; to label or annotate a Namespace, set \
                         `namespace_metadata` on the component instead of writing a second Namespace",
                    ),
                ));
            }
        }
    }
    match RenderError::collect(errors) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
