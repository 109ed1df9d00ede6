//! Changes to fields the Kubernetes API refuses to update in place, and what Flux will do. Pure.
//!
//! Flux's kustomize-controller applies `out/<env>` with server-side apply. A change to an
//! immutable field makes that apply fail, and the whole layer's Kustomization stays not ready,
//! unless the Kustomization sets `force: true`, in which case Flux deletes the object and creates
//! it again.

use serde::Serialize;
use serde_json::Value;

use super::ObjectId;
use super::objects::{group, lookup};

/// A change to an immutable field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImmutableChange {
    /// The dotted field path, e.g. `spec.volumeClaimTemplates`.
    pub field: String,
    /// What Flux will do about it, and the way out.
    pub note: String,
}

/// One immutable-field rule: API group, kind, fields, and the note shown when one changes.
struct Rule {
    group: &'static str,
    kind: &'static str,
    fields: &'static [&'static str],
    note: &'static str,
}

const JOB: &str = "Flux will fail to apply it (a Job's template is immutable) unless the layer's \
Kustomization sets `force: true`, which deletes the Job and creates it again (it runs again). \
Prefer a Job name that carries a content hash: a change then makes a new Job and Flux prunes the old one.";

const STATEFULSET: &str = "Flux will fail to apply it (immutable StatefulSet field). Delete the \
StatefulSet with `kubectl delete statefulset --cascade=orphan` (pods and volumes stay) and let Flux \
create it again, or set `force: true` on the layer's Kustomization (Flux deletes and recreates it).";

const SELECTOR: &str = "Flux will fail to apply it (`spec.selector` is immutable) unless the layer's \
Kustomization sets `force: true`, which deletes and recreates the object: its pods are replaced at once.";

const SERVICE: &str = "Flux will fail to apply it (`spec.clusterIP` is immutable) unless the layer's \
Kustomization sets `force: true`, which deletes and recreates the Service: it gets a new cluster IP.";

const PVC: &str = "Flux will fail to apply it (a PersistentVolumeClaim's spec is immutable except \
`resources.requests`). `force: true` would delete and recreate the claim and can lose its data: \
migrate the volume by hand instead.";

const IMMUTABLE_DATA: &str = "Flux will fail to apply it (the object is marked `immutable: true`) \
unless the layer's Kustomization sets `force: true`, which deletes and recreates it. Prefer a name \
that carries a content hash.";

const RULES: &[Rule] = &[
    Rule {
        group: "batch",
        kind: "Job",
        fields: &["spec.template", "spec.selector"],
        note: JOB,
    },
    Rule {
        group: "apps",
        kind: "StatefulSet",
        fields: &[
            "spec.selector",
            "spec.volumeClaimTemplates",
            "spec.serviceName",
            "spec.podManagementPolicy",
        ],
        note: STATEFULSET,
    },
    Rule {
        group: "apps",
        kind: "Deployment",
        fields: &["spec.selector"],
        note: SELECTOR,
    },
    Rule {
        group: "apps",
        kind: "DaemonSet",
        fields: &["spec.selector"],
        note: SELECTOR,
    },
    Rule {
        group: "apps",
        kind: "ReplicaSet",
        fields: &["spec.selector"],
        note: SELECTOR,
    },
    Rule {
        group: "",
        kind: "Service",
        fields: &["spec.clusterIP", "spec.clusterIPs"],
        note: SERVICE,
    },
];

/// The immutable fields that differ between two versions of the same object.
pub(crate) fn immutable_changes(id: &ObjectId, old: &Value, new: &Value) -> Vec<ImmutableChange> {
    let g = group(&id.api_version);
    let mut out: Vec<ImmutableChange> = RULES
        .iter()
        .filter(|r| r.group == g && r.kind == id.kind)
        .flat_map(|r| r.fields.iter().map(move |f| (*f, r.note)))
        .filter(|(f, _)| lookup(old, f) != lookup(new, f))
        .map(|(f, note)| ImmutableChange {
            field: f.to_owned(),
            note: note.to_owned(),
        })
        .collect();
    if g.is_empty() && id.kind == "PersistentVolumeClaim" && pvc_spec(old) != pvc_spec(new) {
        out.push(ImmutableChange {
            field: "spec (except resources.requests)".to_owned(),
            note: PVC.to_owned(),
        });
    }
    let data_kind = g.is_empty() && matches!(id.kind.as_str(), "ConfigMap" | "Secret");
    if data_kind && old.get("immutable") == Some(&Value::Bool(true)) {
        let data = |v: &Value| ["data", "binaryData", "stringData"].map(|k| v.get(k).cloned());
        if data(old) != data(new) {
            out.push(ImmutableChange {
                field: "data".to_owned(),
                note: IMMUTABLE_DATA.to_owned(),
            });
        }
    }
    out
}

/// A PVC's spec without `resources.requests`, the one part that may change.
fn pvc_spec(v: &Value) -> Option<Value> {
    let mut spec = v.get("spec")?.clone();
    if let Some(Value::Object(res)) = spec.get_mut("resources") {
        res.remove("requests");
        if res.is_empty() {
            spec.as_object_mut().map(|s| s.remove("resources"));
        }
    }
    Some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(api: &str, kind: &str) -> ObjectId {
        ObjectId {
            api_version: api.into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: "x".into(),
        }
    }

    #[test]
    fn statefulset_volume_claim_templates_are_flagged() {
        let old = json!({"spec": {"replicas": 1, "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
        let new = json!({"spec": {"replicas": 1, "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "2Gi"}}}}]}});
        let got = immutable_changes(&id("apps/v1", "StatefulSet"), &old, &new);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].field, "spec.volumeClaimTemplates");
        assert!(got[0].note.starts_with("Flux will"));
    }

    #[test]
    fn replicas_are_not_flagged() {
        let old = json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}}}});
        let new = json!({"spec": {"replicas": 3, "selector": {"matchLabels": {"a": "b"}}}});
        assert!(immutable_changes(&id("apps/v1", "StatefulSet"), &old, &new).is_empty());
        assert!(immutable_changes(&id("apps/v1", "Deployment"), &old, &new).is_empty());
    }

    #[test]
    fn job_template_service_ip_and_pvc_are_flagged() {
        let job = |img: &str| json!({"spec": {"template": {"spec": {"containers": [{"image": img}]}}}});
        assert_eq!(
            immutable_changes(&id("batch/v1", "Job"), &job("a"), &job("b"))[0].field,
            "spec.template"
        );
        let svc = |ip: &str| json!({"spec": {"clusterIP": ip}});
        assert_eq!(
            immutable_changes(&id("v1", "Service"), &svc("None"), &svc("10.0.0.1")).len(),
            1
        );
        let pvc = |size: &str, class: &str| json!({"spec": {"storageClassName": class, "resources": {"requests": {"storage": size}}}});
        assert!(
            immutable_changes(
                &id("v1", "PersistentVolumeClaim"),
                &pvc("1Gi", "a"),
                &pvc("2Gi", "a")
            )
            .is_empty()
        );
        assert_eq!(
            immutable_changes(
                &id("v1", "PersistentVolumeClaim"),
                &pvc("1Gi", "a"),
                &pvc("1Gi", "b")
            )
            .len(),
            1
        );
    }

    #[test]
    fn immutable_configmap_data_is_flagged() {
        let cm = |v: &str| json!({"immutable": true, "data": {"k": v}});
        assert_eq!(
            immutable_changes(&id("v1", "ConfigMap"), &cm("1"), &cm("2"))[0].field,
            "data"
        );
    }
}
