// A vendored library, jsonnet-bundler layout: `vendor/<module path>/...`.
{
  configMap(name, namespace, data):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: name, namespace: namespace },
    data: data,
  },
  service(name, namespace, port):: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: name, namespace: namespace },
    spec: { selector: { 'app.kubernetes.io/name': name }, ports: [{ name: 'http', port: port, targetPort: port }] },
  },
}
