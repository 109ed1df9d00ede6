//! `host-outside-domain` (error).
//!
//! ## What it does
//! Finds a host name outside the environment's `root_domain` in the objects that publish or
//! certify names: Traefik `IngressRoute`/`IngressRouteTCP` (`Host`, `HostSNI`, `HostRegexp`,
//! `HostHeader` in `routes[].match`), `Ingress` (`rules[].host`, `tls[].hosts`), cert-manager
//! `Certificate` (`dnsNames`, `commonName`) and external-dns `DNSEndpoint` (`endpoints[].dnsName`).
//! A name is inside when it is `root_domain` or ends with `.root_domain` (case and a final `.`
//! ignored; `*.root_domain` is inside).
//!
//! ## Why
//! Every host derives from `root_domain` (`n8n.${root_domain}`), so that dev and prod never claim
//! each other's names; a literal name outside it routes, certifies or publishes DNS for a domain
//! this environment does not own (and external-dns would try to change it).

use serde_json::Value;

use super::{Ctx, Finding, Rule};
use crate::diag::Code;
use crate::render::Object;
use crate::span::YamlPath;

pub const RULE: Rule = Rule {
    code: Code::HostOutsideDomain,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let root = ctx.model.env.spec.root_domain.to_ascii_lowercase();
    for object in ctx.objects.iter().filter(|o| o.verbatim.is_none()) {
        for (path, host) in names(object) {
            if !is_inside(&host, &root) {
                out.push(ctx.at_object(object, &path, Some(&host)).finding(
                    &RULE,
                    format!(
                        "{} `{}` names `{host}`, outside `{root}`",
                        object.kind(),
                        object.name()
                    ),
                    format!(
                        "derive the name from the root domain, e.g. `{}.${{root_domain}}`",
                        host.trim_end_matches('.').split('.').next().unwrap_or("app")
                    ),
                ));
            }
        }
    }
}

/// True when `host` is `root` or a name under it. Regular expressions (from `HostRegexp`) are
/// read with `\.` as `.` and without `^`/`$` anchors.
pub fn is_inside(host: &str, root: &str) -> bool {
    let host = host
        .trim()
        .trim_start_matches('^')
        .trim_end_matches('$')
        .replace("\\.", ".")
        .to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    let root = root.trim_end_matches('.');
    host == root || host.ends_with(&format!(".{root}"))
}

/// Every (YAML path, name) an object publishes.
fn names(object: &Object) -> Vec<(YamlPath, String)> {
    let spec = object.value.get("spec");
    let mut out = Vec::new();
    // Paths made of fixed keys and indexes only: safe to parse.
    let strings = |value: Option<&Value>, path: &str, out: &mut Vec<(YamlPath, String)>| {
        if let Some(Value::String(s)) = value {
            out.push((YamlPath::parse(path), s.clone()));
        }
    };
    match object.kind() {
        "IngressRoute" | "IngressRouteTCP" => {
            for (i, route) in array(spec, "routes").iter().enumerate() {
                if let Some(rule) = route.get("match").and_then(Value::as_str) {
                    for host in match_hosts(rule) {
                        out.push((YamlPath::parse("spec.routes").index(i).key("match"), host));
                    }
                }
            }
        }
        "Ingress" => {
            for (i, rule) in array(spec, "rules").iter().enumerate() {
                strings(rule.get("host"), &format!("spec.rules[{i}].host"), &mut out);
            }
            for (i, tls) in array(spec, "tls").iter().enumerate() {
                for (j, host) in array(Some(tls), "hosts").iter().enumerate() {
                    strings(Some(host), &format!("spec.tls[{i}].hosts[{j}]"), &mut out);
                }
            }
        }
        "Certificate" => {
            strings(
                spec.and_then(|s| s.get("commonName")),
                "spec.commonName",
                &mut out,
            );
            for (i, name) in array(spec, "dnsNames").iter().enumerate() {
                strings(Some(name), &format!("spec.dnsNames[{i}]"), &mut out);
            }
        }
        "DNSEndpoint" => {
            for (i, endpoint) in array(spec, "endpoints").iter().enumerate() {
                strings(
                    endpoint.get("dnsName"),
                    &format!("spec.endpoints[{i}].dnsName"),
                    &mut out,
                );
            }
        }
        _ => {}
    }
    out
}

fn array<'v>(value: Option<&'v Value>, key: &str) -> &'v [Value] {
    value
        .and_then(|v| v.get(key))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The names in a Traefik rule: the quoted arguments of `Host(…)`, `HostSNI(…)`, `HostRegexp(…)`
/// and `HostHeader(…)` (`HostSNI(`*`)` is not a name).
pub fn match_hosts(rule: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    let mut rest = rule;
    while let Some(at) = rest.find("Host") {
        let after = &rest[at + 4..];
        let Some(open) = after.find('(') else {
            break;
        };
        let matcher = &after[..open];
        rest = &after[open + 1..];
        if !matches!(matcher, "" | "SNI" | "Regexp" | "Header") {
            continue;
        }
        let Some(close) = rest.find(')') else {
            break;
        };
        for arg in rest[..close].split(',') {
            let arg = arg.trim().trim_matches(['`', '"', '\'']);
            if !arg.is_empty() && arg != "*" {
                hosts.push(arg.to_string());
            }
        }
        rest = &rest[close + 1..];
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_under_the_root_domain_are_inside() {
        let root = "example.org";
        for host in [
            "example.org",
            "n8n.example.org",
            "*.example.org",
            "A.Example.Org.",
            r"^.+\.example\.org$",
        ] {
            assert!(is_inside(host, root), "{host}");
        }
        for host in ["example.com", "badexample.org", "example.org.evil.com", "org"] {
            assert!(!is_inside(host, root), "{host}");
        }
    }

    #[test]
    fn reads_every_host_matcher_of_a_traefik_rule() {
        assert_eq!(
            match_hosts("Host(`a.x`) || (Host(`b.x`, `c.x`) && PathPrefix(`/api`)) || HostSNI(`*`)"),
            ["a.x", "b.x", "c.x"]
        );
        assert_eq!(match_hosts("HostRegexp(`^.+\\.x$`)"), ["^.+\\.x$"]);
        assert_eq!(match_hosts("HostHeader(`h.x`) && Headers(`Host`, `x`)"), ["h.x"]);
        assert!(match_hosts("PathPrefix(`/`)").is_empty());
    }
}
