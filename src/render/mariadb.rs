//! MariaDB (`generator: mariadb`): the database of apps that cannot use Postgres (WordPress), from
//! the official image. Render stage: pure. The shape (StatefulSet, Services, init Job) is in
//! `database.rs`.
//!
//! The init SQL uses `CREATE DATABASE IF NOT EXISTS` and `CREATE USER IF NOT EXISTS`. MariaDB has no
//! client-side variables, so the shell puts each password into the SQL after escaping `\` and `'`.

use serde_json::{Value, json};

use super::Output;
use super::database::{self, DUMP_DIR, DatabaseValues, EngineNames, Pod, Request, password_var, secret_env};
use crate::error::RenderError;
use crate::model::{Component, Engine, Generator, Model};

pub const NAMES: EngineNames = EngineNames {
    engine: Engine::Mariadb,
    generator: Generator::Mariadb,
    admin_secret: "mariadb-admin",
    app_secret: "mariadb-app-credentials",
};
const PORT: u16 = 3306;
const DATA_DIR: &str = "/var/lib/mysql";
/// The `mysql` user of the official image.
const UID: u32 = 999;

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    database::render(
        model,
        component,
        &database::EngineDef {
            names: NAMES,
            service: "mariadb",
            port: PORT,
            pod,
            init_container,
        },
    )
}

fn pod(values: &DatabaseValues) -> Pod {
    let probe = |delay: u32, period: u32, failures: u32| {
        json!({
            "exec": { "command": ["healthcheck.sh", "--connect", "--innodb_initialized"] },
            "initialDelaySeconds": delay,
            "periodSeconds": period,
            "timeoutSeconds": 5,
            "failureThreshold": failures,
        })
    };
    let mut container = json!({
        "name": "mariadb",
        "image": values.image,
        "ports": [{ "name": "mariadb", "containerPort": PORT }],
        "env": [
            secret_env("MARIADB_ROOT_PASSWORD", NAMES.admin_secret, "password"),
            { "name": "MARIADB_AUTO_UPGRADE", "value": "1" },
        ],
        "readinessProbe": probe(5, 10, 3),
        "livenessProbe": probe(30, 20, 6),
        "volumeMounts": [
            { "name": "data", "mountPath": DATA_DIR },
            { "name": "dump", "mountPath": DUMP_DIR },
        ],
    });
    if let Some(resources) = &values.resources {
        container["resources"] = resources.clone();
    }
    Pod {
        container,
        annotations: backup_hook(),
        fs_group: UID,
    }
}

/// A consistent logical dump beside the raw files, taken by Velero just before each backup.
fn backup_hook() -> Value {
    let command = json!([
        "/bin/sh",
        "-c",
        format!(
            "MYSQL_PWD=\"$MARIADB_ROOT_PASSWORD\" mariadb-dump -u root --all-databases \
             --single-transaction --routines --events > {DUMP_DIR}/mariadb-dump.sql"
        ),
    ]);
    json!({
        "pre.hook.backup.velero.io/container": "mariadb",
        "pre.hook.backup.velero.io/command": command.to_string(),
        "pre.hook.backup.velero.io/timeout": "10m",
    })
}

fn init_container(component: &Component, values: &DatabaseValues, requests: &[Request]) -> Value {
    let mut env = vec![
        json!({ "name": "DB_HOST", "value": component.name }),
        secret_env("MYSQL_PWD", NAMES.admin_secret, "password"),
    ];
    for user in database::users(requests) {
        env.push(secret_env(&password_var(user), NAMES.app_secret, user));
    }
    json!({
        "name": "init",
        "image": values.image,
        "command": ["/bin/sh", "-c", script(requests)],
        "env": env,
    })
}

/// Waits for the server, escapes each password into a shell variable, then runs the SQL.
pub fn script(requests: &[Request]) -> String {
    let mut script = String::from(
        "set -eu\n\
         until mariadb-admin -h \"$DB_HOST\" -u root ping --silent; do sleep 2; done\n\
         esc() { printf '%s' \"$1\" | sed -e 's/\\\\/\\\\\\\\/g' -e \"s/'/''/g\"; }\n",
    );
    for user in database::users(requests) {
        script.push_str(&format!("pw_{user}=$(esc \"${}\")\n", password_var(user)));
    }
    script.push_str(&format!(
        "mariadb -h \"$DB_HOST\" -u root <<SQL\n{}SQL\n",
        sql(requests)
    ));
    script
}

/// The SQL of [`script`], inside an unquoted heredoc: backticks are escaped, `$pw_<user>` expands (no braces: Flux post-build substitution would read `${…}`).
pub fn sql(requests: &[Request]) -> String {
    let mut sql = String::new();
    for user in database::users(requests) {
        sql.push_str(&format!(
            "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '$pw_{user}';\n"
        ));
    }
    for Request { name, user } in requests {
        sql.push_str(&format!(
            "CREATE DATABASE IF NOT EXISTS \\`{name}\\`;\n\
             GRANT ALL PRIVILEGES ON \\`{name}\\`.* TO '{user}'@'%';\n"
        ));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_is_idempotent_and_escapes_for_the_heredoc() {
        let reqs = vec![Request {
            name: "wordpress".into(),
            user: "wp".into(),
        }];
        let sql = sql(&reqs);
        assert_eq!(
            sql,
            "CREATE USER IF NOT EXISTS 'wp'@'%' IDENTIFIED BY '$pw_wp';\n\
             CREATE DATABASE IF NOT EXISTS \\`wordpress\\`;\n\
             GRANT ALL PRIVILEGES ON \\`wordpress\\`.* TO 'wp'@'%';\n"
        );
        let script = script(&reqs);
        assert!(script.contains("pw_wp=$(esc \"$PASSWORD_WP\")\n"), "{script}");
    }
}
