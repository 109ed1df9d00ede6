//! PostgreSQL (`generator: postgres`): the shared database of the apps, from the official image.
//! Render stage: pure. The shape (StatefulSet, Services, init Job) is in `database.rs`.
//!
//! The init SQL cannot say `CREATE DATABASE IF NOT EXISTS` in Postgres, so each statement is a
//! `SELECT format(…) WHERE NOT EXISTS (…)` run by psql's `\gexec`; passwords reach psql through
//! `\getenv` and `:'var'` (quoted as literals by psql), never through the shell.

use serde_json::{Value, json};

use super::Output;
use super::database::{self, DUMP_DIR, DatabaseValues, EngineNames, Pod, Request, password_var, secret_env};
use crate::error::RenderError;
use crate::model::{Component, Engine, Generator, Model};

pub const NAMES: EngineNames = EngineNames {
    engine: Engine::Postgres,
    generator: Generator::Postgres,
    admin_secret: "postgres-admin",
    app_secret: "postgres-app-credentials",
};
const PORT: u16 = 5432;
/// The image's superuser.
const ADMIN: &str = "postgres";
/// Postgres 18 images keep `PGDATA` in a versioned folder below this mount (`18/docker`).
const DATA_DIR: &str = "/var/lib/postgresql";
/// The `postgres` user of the Debian-based official image.
const UID: u32 = 999;

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    database::render(
        model,
        component,
        &database::EngineDef {
            names: NAMES,
            service: "postgres",
            port: PORT,
            pod,
            init_container,
        },
    )
}

fn pod(values: &DatabaseValues) -> Pod {
    let probe = |delay: u32, period: u32, failures: u32| {
        json!({
            "exec": { "command": ["pg_isready", "-U", ADMIN, "-h", "127.0.0.1", "-p", PORT.to_string()] },
            "initialDelaySeconds": delay,
            "periodSeconds": period,
            "timeoutSeconds": 5,
            "failureThreshold": failures,
        })
    };
    let mut container = json!({
        "name": "postgres",
        "image": values.image,
        "ports": [{ "name": "postgres", "containerPort": PORT }],
        "env": [secret_env("POSTGRES_PASSWORD", NAMES.admin_secret, "password")],
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
        format!("pg_dumpall -U {ADMIN} --clean --if-exists > {DUMP_DIR}/pg_dumpall.sql"),
    ]);
    json!({
        "pre.hook.backup.velero.io/container": "postgres",
        "pre.hook.backup.velero.io/command": command.to_string(),
        "pre.hook.backup.velero.io/timeout": "10m",
    })
}

fn init_container(component: &Component, values: &DatabaseValues, requests: &[Request]) -> Value {
    let mut env = vec![
        json!({ "name": "PGHOST", "value": component.name }),
        json!({ "name": "PGPORT", "value": PORT.to_string() }),
        json!({ "name": "PGUSER", "value": ADMIN }),
        json!({ "name": "PGDATABASE", "value": "postgres" }),
        secret_env("PGPASSWORD", NAMES.admin_secret, "password"),
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

/// Waits for the server, then runs the SQL through psql (stops at the first error).
pub fn script(requests: &[Request]) -> String {
    format!(
        "set -eu\n\
         until pg_isready -t 5; do sleep 2; done\n\
         psql --no-psqlrc -v ON_ERROR_STOP=1 <<'SQL'\n{}SQL\n",
        sql(requests)
    )
}

/// Creates each missing role (with its password) and database (owned by it), then grants.
pub fn sql(requests: &[Request]) -> String {
    let mut sql = String::new();
    for user in database::users(requests) {
        sql.push_str(&format!(
            "\\getenv pw_{user} {var}\n\
             SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', '{user}', :'pw_{user}') \
             WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}')\\gexec\n",
            var = password_var(user),
        ));
    }
    for Request { name, user } in requests {
        sql.push_str(&format!(
            "SELECT format('CREATE DATABASE %I OWNER %I', '{name}', '{user}') \
             WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{name}')\\gexec\n\
             GRANT ALL PRIVILEGES ON DATABASE \"{name}\" TO \"{user}\";\n"
        ));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_creates_each_role_once_and_each_database() {
        let reqs = vec![
            Request {
                name: "crm".into(),
                user: "twenty".into(),
            },
            Request {
                name: "n8n".into(),
                user: "n8n".into(),
            },
            Request {
                name: "twenty".into(),
                user: "twenty".into(),
            },
        ];
        let sql = sql(&reqs);
        assert_eq!(sql.matches("CREATE ROLE").count(), 2, "{sql}");
        assert_eq!(sql.matches("CREATE DATABASE").count(), 3, "{sql}");
        assert!(sql.contains("\\getenv pw_twenty PASSWORD_TWENTY\n"));
        assert!(sql.contains(
            "SELECT format('CREATE DATABASE %I OWNER %I', 'n8n', 'n8n') WHERE NOT EXISTS \
             (SELECT FROM pg_database WHERE datname = 'n8n')\\gexec\n"
        ));
        assert!(
            script(&reqs).contains("<<'SQL'\n"),
            "quoted heredoc: the shell expands nothing"
        );
    }
}
