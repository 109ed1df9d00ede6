// Shared helpers, found through `lib/` (no relative path needed).
{
  labels(name, env):: {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': 'hydrate-test',
    'hydrate.dev/env': env,
  },
}
