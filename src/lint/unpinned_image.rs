//! `unpinned-image` (error).
//!
//! ## What it does
//! Finds an image without a tag or with the tag `latest`, in every rendered object and in Helm
//! values (string form `image: nginx`, split form `image: {repository: nginx, tag: latest}`). A
//! digest (`@sha256:…`) pins an image whatever its tag. In the split form a missing tag means the
//! chart's default (its `appVersion`, pinned with the chart version) and is accepted.
//!
//! With `lint.require_image_digests: true` in the environment (or a component) file, every image
//! must also carry a digest.
//!
//! ## Why
//! `latest` (or no tag, which means `latest`) changes under the same manifest: a restart can run a
//! different program, and `out/` no longer records what runs.

use super::no_bitnami::global_registry;
use super::{Ctx, Finding, Rule};
use crate::diag::Code;
use crate::image::{Form, Found, images_in};
use crate::render::Object;
use crate::span::YamlPath;

pub const RULE: Rule = Rule {
    code: Code::UnpinnedImage,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for object in ctx.objects.iter().filter(|o| o.verbatim.is_none()) {
        // Flux image automation objects name repositories to watch, not images to run.
        if object.api_version().starts_with("image.toolkit.fluxcd.io/") {
            continue;
        }
        let require_digest = ctx.model.env.spec.lint.require_image_digests
            || ctx
                .component_of(object)
                .is_some_and(|c| c.spec.lint.require_image_digests);
        for found in images_in(&object.value, &YamlPath::root(), global_registry(object)) {
            image(ctx, object, &found, require_digest, out);
        }
        let mut invalid = Vec::new();
        crate::image::invalid_references(&object.value, &YamlPath::root(), &mut invalid);
        for (path, message) in invalid {
            out.push(ctx.at_object(object, &path, None).finding(
                &RULE,
                message,
                "write an image reference: `registry/repository:tag` or `…@sha256:<digest>`, \
                 lowercase, without spaces or line breaks",
            ));
        }
    }
}

/// YAML path of the `tag` beside a split form's `repository`.
fn tag_path(found: &Found) -> YamlPath {
    match (found.path.last_key(), found.path.parent()) {
        (Some("repository"), Some(base)) => base.key("tag"),
        _ => found.path.clone(),
    }
}

fn image(ctx: &Ctx<'_>, object: &Object, found: &Found, require_digest: bool, out: &mut Vec<Finding>) {
    let image = &found.image;
    if image.digest.is_some() {
        return;
    }
    let is_latest = image
        .tag
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("latest"));
    let split = matches!(found.form, Form::Split { .. });
    let written = (!split).then_some(found.written.as_str());
    let (path, message, help) = if is_latest {
        (
            if split {
                tag_path(found)
            } else {
                found.path.clone()
            },
            format!("image `{}` uses the moving tag `latest`", image.name()),
            format!(
                "pin a version tag, e.g. `{}:<version>`, or a digest",
                image.name()
            ),
        )
    } else if image.tag.is_none() && !split {
        (
            found.path.clone(),
            format!(
                "image `{}` has no tag, so it runs whatever `latest` is",
                image.name()
            ),
            format!(
                "pin a version tag, e.g. `{}:<version>`, or a digest",
                image.name()
            ),
        )
    } else if require_digest {
        (
            found.path.clone(),
            format!(
                "image `{}` has no digest, and this environment requires digests (`lint.require_image_digests`)",
                found.written
            ),
            if split {
                format!(
                    "set `digest: sha256:…` beside `repository` (`crane digest {}` prints it)",
                    found.written
                )
            } else {
                format!(
                    "append its digest: `{}@sha256:…` (`crane digest {}` prints it)",
                    found.written, found.written
                )
            },
        )
    } else {
        return;
    };
    out.push(
        ctx.at_object(object, &path, written)
            .finding(&RULE, message, help),
    );
}
