// Imported relative to main.jsonnet.
local labels = import 'hydrate-test/labels.libsonnet';

function(name, env, replicas, image) {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: name, namespace: 'apps', labels: labels.labels(name, env) },
  spec: {
    replicas: replicas,
    selector: { matchLabels: { 'app.kubernetes.io/name': name } },
    template: {
      metadata: { labels: labels.labels(name, env) },
      spec: { containers: [{ name: name, image: image }] },
    },
  },
}
