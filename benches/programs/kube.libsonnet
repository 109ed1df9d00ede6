// A small Kubernetes library in the style of real ones (k8s-libsonnet, kube.libsonnet):
// base objects, mixins with `+:`, hidden helpers, string formatting.
{
  _object(apiVersion, kind, name, namespace=null):: {
    apiVersion: apiVersion,
    kind: kind,
    metadata: {
      name: name,
      labels: { 'app.kubernetes.io/managed-by': 'hydrate' },
    } + (if namespace == null then {} else { namespace: namespace }),
  },

  labels(tenant, app):: {
    'app.kubernetes.io/name': app,
    'app.kubernetes.io/instance': '%s-%s' % [tenant, app],
    'app.kubernetes.io/part-of': tenant,
  },

  namespace(name, tier):: $._object('v1', 'Namespace', name) + {
    metadata+: { labels+: { 'hydrate.dev/tier': tier, 'pod-security.kubernetes.io/enforce': 'restricted' } },
  },

  quota(ns, cpu, memory):: $._object('v1', 'ResourceQuota', 'quota', ns) + {
    spec: { hard: { 'requests.cpu': cpu, 'requests.memory': memory, 'limits.cpu': cpu * 2, pods: '50' } },
  },

  limits(ns):: $._object('v1', 'LimitRange', 'limits', ns) + {
    spec: { limits: [{ type: 'Container', default: { cpu: '500m', memory: '512Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } }] },
  },

  denyAll(ns):: $._object('networking.k8s.io/v1', 'NetworkPolicy', 'default-deny', ns) + {
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  },

  allowDns(ns):: $._object('networking.k8s.io/v1', 'NetworkPolicy', 'allow-dns', ns) + {
    spec: {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
        ports: [{ protocol: p, port: 53 } for p in ['UDP', 'TCP']],
      }],
    },
  },

  config(ns, tenant, i):: $._object('v1', 'ConfigMap', 'settings', ns) + {
    data: {
      TENANT: tenant,
      URL: 'https://%s.example.org' % tenant,
      FEATURES: std.join(',', [f for f in ['billing', 'search', 'reports', 'audit'] if (i + std.length(f)) % 3 != 0]),
      SETTINGS: std.manifestJsonEx({ index: i, shards: 1 + i % 4, replicas: [r for r in std.range(1, 1 + i % 3)] }, '  '),
    },
  },

  deployment(ns, tenant, app, image, replicas):: $._object('apps/v1', 'Deployment', app, ns) + {
    local labels = $.labels(tenant, app),
    metadata+: { labels+: labels },
    spec: {
      replicas: replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: labels },
        spec: {
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: app,
            image: image,
            ports: [{ name: 'http', containerPort: 8080 }],
            envFrom: [{ configMapRef: { name: 'settings' } }],
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
            readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
          }],
        },
      },
    },
  },

  service(ns, tenant, app):: $._object('v1', 'Service', app, ns) + {
    spec: { selector: $.labels(tenant, app), ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  },

  // Eight objects per tenant.
  tenant(name, i)::
    local ns = 'tenant-' + name;
    [
      $.namespace(ns, if i % 10 == 0 then 'premium' else 'standard'),
      $.quota(ns, 2 + i % 4, '%dGi' % (4 + i % 8)),
      $.limits(ns),
      $.denyAll(ns),
      $.allowDns(ns),
      $.config(ns, name, i),
      $.deployment(ns, name, 'api', 'ghcr.io/acme/api:1.%d.0' % (i % 7), 1 + i % 3),
      $.service(ns, name, 'api'),
    ],
}
