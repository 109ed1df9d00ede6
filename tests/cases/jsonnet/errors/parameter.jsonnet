// `cluster` is not part of hydrate's context.
function(env, cluster) { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: env + cluster } }
