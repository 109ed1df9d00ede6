//! Keeping secret values out of everything hydrate shows: terminal messages, snippets, JSON
//! findings, diffs, pull-request comments.
//!
//! Three layers, each enough on its own for what it covers:
//!
//! 1. **Snippets** of input files are masked before they are shown ([`source_for_display`]):
//!    every value of a file under `secrets/` or of a `kind: Secret` document, and every value
//!    under a key that names a credential ([`is_credential_key`]) anywhere else.
//! 2. **Messages** are written not to contain values (findings name keys and paths), and
//!    parser messages that quote a value have it removed ([`strip_quoted_values`]).
//! 3. **A last net** ([`Scrubber`]): the values of the repository that are secret (as in 1)
//!    are collected when the inputs are loaded, and any of them that still reaches printed text
//!    is replaced by `[redacted]`.
//!
//! Pure: text in, text out.

use std::borrow::Cow;
use std::sync::OnceLock;

use camino::Utf8Path;

/// What a masked value reads as.
pub const MASK: &str = "[redacted]";

/// A key (or variable name) that names a credential rather than where one is kept:
/// `password`, `adminPassword`, `DB_PASSWORD`, `apiKey`, `privateKey`, `clientSecret`, `token`…
/// but not `existingSecret`, `secretName`, `passwordKey`, `secretKeyRef`.
pub fn is_credential_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    const NAMES_A_PLACE: &[&str] = &[
        "existingsecret",
        "secretname",
        "secretref",
        "secretkeyref",
        "passwordkey",
        "tokenkey",
        "usernamekey",
        "secretfile",
        "passwordfile",
        "tokenfile",
        "keyfile",
        "secretpath",
        "tokenpath",
        "secretsmanager",
        "secretmount",
    ];
    if NAMES_A_PLACE.iter().any(|p| k.ends_with(p)) || k.starts_with("existing") {
        return false;
    }
    const CREDENTIALS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "token",
        "secret",
        "apikey",
        "privatekey",
        "accesskeyid",
        "secretaccesskey",
        "secretkey",
        "clientsecret",
        "credentials",
        "dsn",
    ];
    CREDENTIALS.iter().any(|c| k.ends_with(c))
}

/// True when every value of the file is secret: files under `secrets/`, and any text holding a
/// `kind: Secret` document.
pub fn is_secret_file(path: &Utf8Path, text: &str) -> bool {
    path.starts_with("secrets")
        || text
            .lines()
            .any(|l| l.trim_end() == "kind: Secret" || l.trim_end() == "\"kind\": \"Secret\",")
}

/// `text` as it may be shown: line for line (so positions stay valid), with secret values
/// replaced by [`MASK`]. In a secret file (see [`is_secret_file`]) every scalar value is masked
/// and only keys, structure and comments stay; elsewhere the values of credential keys are.
pub fn source_for_display(path: &Utf8Path, text: &str) -> String {
    let all = is_secret_file(path, text);
    let mut out = String::with_capacity(text.len());
    let mut block: Option<usize> = None; // indentation of a masked block scalar's key
    // `- name: DB_PASSWORD` makes its sibling `value:` (same key column) a credential.
    let mut credential_item: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let indent = body.len() - body.trim_start().len();
        let key_column = indent + if body.trim_start().starts_with("- ") { 2 } else { 0 };
        if let Some(column) = credential_item {
            let sibling = key_column == column && !body.trim_start().starts_with("- ");
            if sibling && body.trim_start().starts_with("value:") {
                let at = body.find("value:").map_or(body.len(), |i| i + "value:".len());
                out.push_str(&body[..at]);
                out.push(' ');
                out.push_str(MASK);
                out.push_str(end);
                continue;
            }
            if !sibling || body.trim().is_empty() {
                credential_item = None;
            }
        }
        if let Some(name) = body
            .trim_start()
            .trim_start_matches("- ")
            .strip_prefix("name:")
            .map(|n| n.trim().trim_matches(|c| c == '"' || c == '\''))
            && is_credential_key(name)
        {
            credential_item = Some(key_column);
        }
        if let Some(key_indent) = block {
            if body.trim().is_empty() || indent > key_indent {
                out.push_str(&" ".repeat(indent));
                if !body.trim().is_empty() {
                    out.push_str(MASK);
                }
                out.push_str(end);
                continue;
            }
            block = None;
        }
        let (masked, opens_block) = mask_line(body, all);
        if opens_block {
            block = Some(indent);
        }
        out.push_str(&masked);
        out.push_str(end);
    }
    out
}

/// One line with its secret values masked; also whether it opens a block scalar (`key: |`) whose
/// following, more indented lines are the value.
fn mask_line(line: &str, all: bool) -> (String, bool) {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.is_empty() || trimmed == "---" || trimmed == "..." {
        return (line.to_string(), false);
    }
    let mut out = String::with_capacity(line.len());
    let mut opens_block = false;
    let mut rest = line;
    // `key: value` pairs, also inside flow mappings (`{a: 1, password: x}`).
    while let Some(colon) = find_key_colon(rest) {
        let (before, after) = rest.split_at(colon + 1);
        out.push_str(before);
        let key = last_key(before);
        let secret = key.is_some_and(|k| {
            (all && !matches!(k, "apiVersion" | "kind" | "name" | "namespace" | "type"))
                || is_credential_key(k)
        });
        let value_len = scalar_len(after);
        let value = &after[..value_len];
        let v = value.trim();
        if secret && !v.is_empty() && !v.starts_with('{') && !v.starts_with('[') {
            if v.starts_with('|') || v.starts_with('>') {
                out.push_str(value);
                opens_block = true;
            } else {
                let lead = value.len() - value.trim_start().len();
                out.push_str(&value[..lead]);
                out.push_str(MASK);
                let trail = value.len() - value.trim_end().len();
                out.push_str(&value[value.len() - trail..]);
            }
            rest = &after[value_len..];
        } else {
            // Nested flow collection or a plain value: keep going after the colon.
            rest = after;
        }
    }
    out.push_str(rest);
    // A sequence item of a secret file: `- value`.
    if all && out.trim_start().starts_with("- ") && !out.contains(':') {
        let indent = out.len() - out.trim_start().len();
        return (format!("{}- {MASK}", &out[..indent]), false);
    }
    (out, opens_block)
}

/// The byte index of the next `:` that ends a key (followed by a space or the end), outside quotes.
fn find_key_colon(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'#') if i > 0 && bytes[i - 1] == b' ' => return None,
            (None, b':') if bytes.get(i + 1).is_none_or(|n| *n == b' ' || *n == b'\t') => {
                return Some(i);
            }
            _ => {}
        }
    }
    None
}

/// The key just before a `:`: the last plain or quoted word (`  - name: `, `{a: 1, password:`).
fn last_key(before_colon: &str) -> Option<&str> {
    let text = before_colon.strip_suffix(':')?.trim_end();
    let text = text.trim_matches(|c| c == '"' || c == '\'');
    let start = text.rfind(['{', ',', ' ', '"', '\'']).map_or(0, |i| i + 1);
    let key = &text[start..];
    (!key.is_empty()).then_some(key)
}

/// Length of the scalar that follows a `key:`: up to a `,` or `}` of a flow mapping, a ` #`
/// comment or the end of the line, quotes respected.
fn scalar_len(after: &str) -> usize {
    let bytes = after.as_bytes();
    let mut quote: Option<u8> = None;
    let mut started = false;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') if !started => {
                quote = Some(b);
                started = true;
            }
            (None, b',' | b'}' | b']') => return i,
            (None, b'#') if i > 0 && bytes[i - 1] == b' ' => return i,
            (None, b' ' | b'\t') => {}
            _ => started = true,
        }
    }
    bytes.len()
}

/// Removes values that a parser quoted in its message (`invalid type: string "hunter2",
/// expected a map` → `invalid type: string, expected a map`): messages name keys, not values.
pub fn strip_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(" \"") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('"') {
            Some(end) => rest = &after[end + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The secret values of a repository, replaced wherever they would be printed.
#[derive(Debug, Default, Clone)]
pub struct Scrubber {
    /// Longest first, so a value that contains another is replaced whole.
    values: Vec<String>,
}

impl Scrubber {
    /// Collects the secret values of `files` (path, text): every scalar of secret files, and of
    /// credential keys elsewhere. Values shorter than 4 characters (6 for numbers) are left out:
    /// replacing them would garble ordinary text, and the snippets already mask them.
    pub fn of<'a>(files: impl IntoIterator<Item = (&'a Utf8Path, &'a str)>) -> Scrubber {
        let mut values = std::collections::BTreeSet::new();
        for (path, text) in files {
            let all = is_secret_file(path, text);
            let Ok(docs) = serde_saphyr::from_multiple::<serde_json::Value>(text) else {
                continue;
            };
            for doc in &docs {
                collect(doc, all, false, &mut values);
            }
        }
        let mut values: Vec<String> = values.into_iter().collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        Scrubber { values }
    }

    /// `text` with every known secret value replaced by [`MASK`].
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.values.iter().any(|v| text.contains(v.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn collect(
    value: &serde_json::Value,
    all: bool,
    under_credential: bool,
    out: &mut std::collections::BTreeSet<String>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let skip = all && matches!(k.as_str(), "apiVersion" | "kind" | "sops" | "metadata");
                if !skip {
                    collect(v, all, is_credential_key(k), out);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect(item, all, under_credential, out);
            }
        }
        serde_json::Value::String(s) if all || under_credential => {
            let s = s.trim();
            let numeric = s.chars().all(|c| c.is_ascii_digit());
            let long_enough = if numeric {
                s.len() >= 6
            } else {
                s.chars().count() >= 4
            };
            if long_enough && !s.starts_with("ENC[") {
                out.insert(s.to_string());
            }
        }
        serde_json::Value::Number(n) if under_credential => {
            let s = n.to_string();
            if s.len() >= 6 {
                out.insert(s);
            }
        }
        _ => {}
    }
}

static SCRUBBER: OnceLock<Scrubber> = OnceLock::new();

/// Sets the process' scrubber (the commands do, once the inputs are loaded); later calls keep
/// the first.
pub fn install(scrubber: Scrubber) {
    let _ = SCRUBBER.set(scrubber);
}

/// `text` through the installed scrubber, if any: what every command prints goes through here.
pub fn scrub(text: &str) -> Cow<'_, str> {
    match SCRUBBER.get() {
        Some(s) => s.scrub(text),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_keys_and_places() {
        for key in [
            "password",
            "adminPassword",
            "DB_PASSWORD",
            "token",
            "apiKey",
            "API_KEY",
            "privateKey",
            "clientSecret",
            "jwtSecret",
            "secretAccessKey",
            "SENTRY_DSN",
            "secretKey",
        ] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in [
            "existingSecret",
            "existingSecretPasswordKey",
            "secretName",
            "passwordKey",
            "secretKeyRef",
            "username",
            "tokenTTL",
            "publicKeyPath",
            "image",
        ] {
            assert!(!is_credential_key(key), "{key}");
        }
    }

    #[test]
    fn credential_values_are_masked_line_for_line() {
        let text = "values:\n  auth:\n    username: app\n    password: hunter2 # old\n  smtp: {host: x, apiKey: \"k-1\"}\n";
        let shown = source_for_display(Utf8Path::new("apps/a/component.yaml"), text);
        assert_eq!(
            shown,
            "values:\n  auth:\n    username: app\n    password: [redacted] # old\n  smtp: {host: x, apiKey: [redacted]}\n"
        );
        assert_eq!(shown.lines().count(), text.lines().count());
    }

    #[test]
    fn the_value_of_a_credential_named_variable_is_masked() {
        let text = "env:\n  - name: DB_PASSWORD\n    value: hunter2\n  - name: MODE\n    value: prod\n";
        let shown = source_for_display(Utf8Path::new("out/x/a/deployment-a.yaml"), text);
        assert_eq!(
            shown,
            "env:\n  - name: DB_PASSWORD\n    value: [redacted]\n  - name: MODE\n    value: prod\n"
        );
    }

    #[test]
    fn every_value_of_a_secret_file_is_masked() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  user: app\n  cert: |\n    -----BEGIN-----\n    abc\n  list:\n    - one\n";
        let shown = source_for_display(Utf8Path::new("apps/a/secret.yaml"), text);
        assert!(
            !shown.contains("app\n") && !shown.contains("abc") && !shown.contains("one"),
            "{shown}"
        );
        assert!(
            shown.contains("kind: Secret") && shown.contains("name: db"),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), text.lines().count());
    }

    #[test]
    fn parser_messages_lose_their_quoted_values() {
        assert_eq!(
            strip_quoted_values("invalid type: string \"hunter2\", expected a map"),
            "invalid type: string, expected a map"
        );
    }

    #[test]
    fn the_scrubber_replaces_collected_values() {
        let files = [
            (
                Utf8Path::new("apps/a/component.yaml"),
                "values: {auth: {password: hunter2, user: bob}}\n",
            ),
            (
                Utf8Path::new("secrets/prod/a/s.sops.yaml"),
                "stringData: {k: plain-leak}\nsops: {mac: x}\n",
            ),
        ];
        let s = Scrubber::of(files);
        assert_eq!(
            s.scrub("pw is hunter2, also plain-leak; bob stays"),
            "pw is [redacted], also [redacted]; bob stays"
        );
    }
}
