//! The environment's `backup` block, as Velero reads it: a five-field cron `schedule` whose
//! fields are in range, a `timezone` of the IANA database, a Go-duration `retention`, an S3
//! `bucket` name, and a Spaces store's `region`. Also: an enabled Velero component needs
//! `features.velero` and a `backup` block.

use super::Problems;
use crate::model::{Env, StoreProvider};

/// Every problem of the environment's backup settings; `has_velero` when a Velero component is
/// enabled in it.
pub fn check(env: &Env, has_velero: bool) -> Problems {
    let mut problems = Problems::default();
    let spec = &env.spec;
    if has_velero && !spec.features.velero {
        problems.add(
            "features.velero",
            format!(
                "a Velero component is enabled but `features.velero` is off in `{}`",
                env.file.path
            ),
            "set `features.velero: true`, or disable the component (`components.velero.enabled: false`)"
                .into(),
        );
    }
    let Some(backup) = &spec.backup else {
        if has_velero && spec.features.velero {
            problems.add(
                "features",
                "Velero is on but the environment has no `backup` block".into(),
                "add `backup: {schedule: \"0 3 * * *\", timezone: Europe/Brussels, retention: 720h0m0s, \
                 store: {provider: spaces, bucket: …, region: fra1}}`"
                    .into(),
            );
        }
        return problems;
    };
    if let Some(problem) = cron_problem(&backup.schedule) {
        problems.add(
            "backup.schedule",
            format!(
                "`{}` is not a five-field cron expression: {problem}",
                backup.schedule
            ),
            "write minute hour day month weekday, e.g. `0 3 * * *`; the time zone goes in `backup.timezone`"
                .into(),
        );
    }
    if backup.timezone.parse::<chrono_tz::Tz>().is_err() {
        let close = closest_time_zone(&backup.timezone)
            .map(|tz| format!("did you mean `{tz}`? "))
            .unwrap_or_default();
        problems.add(
            "backup.timezone",
            format!("`{}` is not a time zone of the IANA database", backup.timezone),
            format!("{close}write e.g. `Europe/Brussels` or `UTC`"),
        );
    }
    if !is_duration(&backup.retention) {
        problems.add(
            "backup.retention",
            format!("`{}` is not a Kubernetes duration", backup.retention),
            "write hours, minutes and seconds, e.g. `720h0m0s` for 30 days".into(),
        );
    }
    if !is_bucket(&backup.store.bucket) {
        problems.add(
            "backup.store.bucket",
            format!("`{}` is not an S3 bucket name", backup.store.bucket),
            "use 3 to 63 lowercase letters, digits, `.` and `-`, e.g. `fullfrontend-prod-velero`".into(),
        );
    }
    if backup.store.provider == StoreProvider::Spaces && backup.store.region.is_none() {
        problems.add(
            "backup.store",
            "a Spaces backup store needs its `region`".into(),
            "add `region: fra1` (the Spaces datacenter) under `backup.store`".into(),
        );
    }
    problems
}

/// An S3 bucket name: 3 to 63 of `a-z0-9.-`, starting and ending with a letter or digit.
pub fn is_bucket(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The IANA name closest to `tz` (`Europe/Brusels` → `Europe/Brussels`), if one is close.
fn closest_time_zone(tz: &str) -> Option<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|candidate| (strsim::jaro_winkler(tz, candidate.name()), candidate.name()))
        .filter(|(score, _)| *score > 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// Why `schedule` is not a standard five-field cron expression (as Velero's robfig/cron parser
/// reads it: `*`, numbers, ranges, lists, steps, month and weekday names; no `TZ=` prefix, no
/// `@every`), if it is not. `@daily`-style descriptors are accepted.
pub fn cron_problem(schedule: &str) -> Option<String> {
    let schedule = schedule.trim();
    if schedule.starts_with('@') {
        return (!matches!(
            schedule,
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
        ))
        .then(|| format!("`{schedule}` is not a descriptor (`@daily`, `@weekly`…)"));
    }
    if schedule.contains("TZ=") {
        return Some("the time zone goes in `backup.timezone`, not in the schedule".to_string());
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!("it has {} fields", fields.len()));
    }
    const MONTHS: &[&str] = &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, MONTHS, 1),
        ("day of week", 0, 7, DAYS, 0),
    ];
    for (field, (name, min, max, names, offset)) in fields.iter().zip(specs) {
        let value = |text: &str| -> Option<u32> {
            text.parse::<u32>().ok().or_else(|| {
                let lower = text.to_ascii_lowercase();
                let i = names.iter().position(|n| *n == lower)?;
                u32::try_from(i).ok().map(|i| i + offset)
            })
        };
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (part, None),
            };
            if let Some(step) = step
                && step.parse::<u32>().map_or(true, |s| s == 0)
            {
                return Some(format!("`{part}`: the {name} step must be a positive number"));
            }
            if range == "*" || range == "?" {
                continue;
            }
            let (low, high) = range.split_once('-').unwrap_or((range, range));
            match (value(low), value(high)) {
                (Some(low), Some(high)) if low >= min && high <= max && low <= high => {}
                _ => return Some(format!("`{part}` is not a {name} ({min}-{max})")),
            }
        }
    }
    None
}

/// A Go duration as Velero reads it: `720h0m0s`, `720h`, `90m` (units h, m, s; at least one).
pub fn is_duration(text: &str) -> bool {
    let mut digits = 0;
    let mut units = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => digits += 1,
            'h' | 'm' | 's' if digits > 0 => {
                units.push(c);
                digits = 0;
            }
            _ => return false,
        }
    }
    digits == 0 && !units.is_empty() && ["hms", "hm", "hs", "ms", "h", "m", "s"].contains(&units.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_fields_are_checked_in_range() {
        for ok in [
            "0 3 * * *",
            "*/15 * * * 1-5",
            "0 0 1 jan,jul *",
            "30 2 * * SUN",
            "@daily",
            "0 3 * * 7",
        ] {
            assert_eq!(cron_problem(ok), None, "{ok}");
        }
        for bad in [
            "0 3 * *",
            "61 3 * * *",
            "0 24 * * *",
            "0 3 0 * *",
            "0 3 * 13 *",
            "*/0 * * * *",
            "TZ=UTC 0 3 * * *",
            "@every 1h",
            "0 5-3 * * *",
        ] {
            assert!(cron_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn time_zones_come_from_the_tz_database() {
        assert!("Europe/Brussels".parse::<chrono_tz::Tz>().is_ok());
        assert!("Europe/Brusels".parse::<chrono_tz::Tz>().is_err());
        assert_eq!(closest_time_zone("Europe/Brusels"), Some("Europe/Brussels"));
    }

    #[test]
    fn durations() {
        for ok in ["720h0m0s", "720h", "90m", "30s", "1h30m"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "720", "h", "30d", "0m720h", "720 h", "1.5h"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
