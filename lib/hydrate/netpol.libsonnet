// NetworkPolicies for an environment, computed from its list of components.
//
// For every distinct namespace of the components:
//   default-deny           deny all ingress and egress of every pod
//   allow-dns              egress to kube-dns (53/UDP and 53/TCP)
//   allow-same-namespace   traffic between pods of the namespace (namespaces are the unit of
//                          isolation: a database's init Job, an app's own cache), unless
//                          `values.allow_same_namespace` is false
// For every component with `hosts` (routed by the ingress controller, Traefik by default):
//   allow-ingress-route-<c>   in <c>'s namespace: ingress from the controller to <c>'s ingress ports
//   allow-egress-route-<c>    in the controller's namespace: egress from the controller to them
// For every `uses` edge <c> -> <d> (an app using a database, say):
//   allow-egress-<c>-to-<d>   in <c>'s namespace: egress to <d>'s ports
//   allow-ingress-<c>-to-<d>  in <d>'s namespace: ingress from <c> on those ports
// For components that declare them:
//   allow-ingress-public-<c>  ingress from anywhere on `public_ports` (the ingress controller)
//   allow-egress-world-<c>    egress to any address on `egress_world_ports` (APIs, ACME, S3, the API server)
//
// Component fields read (all optional except `name` and `namespace`; see docs/jsonnet.md):
//   name, namespace, layer, hosts, ports, ingress_ports, uses, pod_labels, public_ports,
//   egress_world_ports. A port is a number (TCP) or {port, protocol}.
// `values` (the network-policies component's own values) may set `ingress_controller`, `dns`,
// `exclude_namespaces`, `well_known_ports` and `overrides` (per-component fields merged over the list).

local defaults = {
  // Component name of the ingress controller, or {name, namespace, pod_labels} when it is not a component.
  ingress_controller: 'traefik',
  dns: { namespace: 'kube-system', pod_labels: { 'k8s-app': 'kube-dns' } },
  exclude_namespaces: [],
  allow_same_namespace: true,
  // Ports of services used by name when the used component declares none.
  well_known_ports: { postgres: [5432], postgresql: [5432], mariadb: [3306], mysql: [3306], redis: [6379] },
  // Per-component fields merged over the list; the Traefik chart labels its pods `app.kubernetes.io/name: traefik`.
  overrides: { traefik: { pod_labels: { 'app.kubernetes.io/name': 'traefik' } } },
};

local fail(msg) = error 'network-policies: ' + msg;

local port(p, owner) =
  if std.isNumber(p) || std.isString(p) then { protocol: 'TCP', port: p }
  else if std.isObject(p) && std.objectHas(p, 'port') then { protocol: std.get(p, 'protocol', 'TCP'), port: p.port }
  else fail('component `%s`: a port must be a number, a name or {port, protocol}, got %s' % [owner, std.manifestJsonMinified(p)]);

local ports(list, owner) = std.uniq(std.sort(
  [port(p, owner) for p in list],
  function(p) std.toString(p.port) + '/' + p.protocol
), function(p) std.toString(p.port) + '/' + p.protocol);

// One component with every field present.
local normalise(raw, overrides) =
  local c = raw + std.get(overrides, raw.name, {});
  local own = ports(std.get(c, 'ports', []), c.name);
  {
    name: c.name,
    namespace: c.namespace,
    layer: std.get(c, 'layer', 'apps'),
    hosts: std.get(c, 'hosts', []),
    ports: own,
    ingress_ports: if std.objectHas(c, 'ingress_ports') then ports(c.ingress_ports, c.name) else own,
    uses: std.set(std.get(c, 'uses', [])),
    pod_labels: std.get(c, 'pod_labels', {}),
    public_ports: ports(std.get(c, 'public_ports', []), c.name),
    egress_world_ports: ports(std.get(c, 'egress_world_ports', []), c.name),
  };

local podSelector(labels) = if std.length(labels) > 0 then { matchLabels: labels } else {};

local peer(namespace, labels) =
  { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } }
  + (if std.length(labels) > 0 then { podSelector: { matchLabels: labels } } else {});

local policy(name, namespace, spec) = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: {
    name: name,
    namespace: namespace,
    labels: { 'app.kubernetes.io/managed-by': 'hydrate', 'app.kubernetes.io/part-of': 'network-policies' },
  },
  spec: spec,
};

local world = [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }];

{
  defaults:: defaults,

  // The policies, sorted by namespace then name.
  policies(components, values={})::
    local cfg = defaults + values;
    local all = [
      normalise(c, cfg.overrides)
      for c in components
      if std.get(c, 'namespace', null) != null
    ];
    local byName = { [c.name]: c for c in all };
    assert std.length(byName) == std.length(all) : 'network-policies: component names must be unique';
    local namespaces = std.set([c.namespace for c in all if !std.member(cfg.exclude_namespaces, c.namespace)]);
    local included(namespace) = !std.member(cfg.exclude_namespaces, namespace);

    local controller =
      if std.isString(cfg.ingress_controller) then
        if std.objectHas(byName, cfg.ingress_controller) then byName[cfg.ingress_controller] else null
      else { name: 'ingress-controller', pod_labels: {} } + cfg.ingress_controller;
    local routed = [c for c in all if std.length(c.hosts) > 0 && (controller == null || c.name != controller.name)];

    local usedPorts(c, d) =
      if std.length(d.ports) > 0 then d.ports
      else if std.objectHas(cfg.well_known_ports, d.name) then ports(cfg.well_known_ports[d.name], d.name)
      else fail('component `%s` uses `%s`, which declares no `ports`' % [c.name, d.name]);

    local base = std.flattenArrays([
      [
        policy('default-deny', ns, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
        policy('allow-dns', ns, {
          podSelector: {},
          policyTypes: ['Egress'],
          egress: [{
            to: [peer(cfg.dns.namespace, cfg.dns.pod_labels)],
            ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
          }],
        }),
      ] + (if cfg.allow_same_namespace then [
        policy('allow-same-namespace', ns, {
          podSelector: {},
          policyTypes: ['Ingress', 'Egress'],
          ingress: [{ from: [{ podSelector: {} }] }],
          egress: [{ to: [{ podSelector: {} }] }],
        }),
      ] else [])
      for ns in namespaces
    ]);

    local routes = std.flattenArrays([
      if controller == null then
        fail('component `%s` has hosts but there is no ingress controller component `%s`; set `ingress_controller`' % [c.name, cfg.ingress_controller])
      else if std.length(c.ingress_ports) == 0 then
        fail('component `%s` has hosts but no `ports` (or `ingress_ports`) for the ingress controller to reach' % c.name)
      else
        (if included(c.namespace) then [policy('allow-ingress-route-' + c.name, c.namespace, {
           podSelector: podSelector(c.pod_labels),
           policyTypes: ['Ingress'],
           ingress: [{ from: [peer(controller.namespace, controller.pod_labels)], ports: c.ingress_ports }],
         })] else [])
        + (if included(controller.namespace) then [policy('allow-egress-route-' + c.name, controller.namespace, {
             podSelector: podSelector(controller.pod_labels),
             policyTypes: ['Egress'],
             egress: [{ to: [peer(c.namespace, c.pod_labels)], ports: c.ingress_ports }],
           })] else [])
      for c in routed
    ]);

    local uses = std.flattenArrays([
      local d = if std.objectHas(byName, target) then byName[target]
      else fail('component `%s` uses `%s`, which is not a component of this environment' % [c.name, target]);
      local p = usedPorts(c, d);
      (if included(c.namespace) then [policy('allow-egress-%s-to-%s' % [c.name, d.name], c.namespace, {
         podSelector: podSelector(c.pod_labels),
         policyTypes: ['Egress'],
         egress: [{ to: [peer(d.namespace, d.pod_labels)], ports: p }],
       })] else [])
      + (if included(d.namespace) then [policy('allow-ingress-%s-to-%s' % [c.name, d.name], d.namespace, {
           podSelector: podSelector(d.pod_labels),
           policyTypes: ['Ingress'],
           ingress: [{ from: [peer(c.namespace, c.pod_labels)], ports: p }],
         })] else [])
      for c in all
      for target in c.uses
    ]);

    local edges = std.flattenArrays([
      (if std.length(c.public_ports) > 0 then [policy('allow-ingress-public-' + c.name, c.namespace, {
         podSelector: podSelector(c.pod_labels),
         policyTypes: ['Ingress'],
         ingress: [{ ports: c.public_ports }],
       })] else [])
      + (if std.length(c.egress_world_ports) > 0 then [policy('allow-egress-world-' + c.name, c.namespace, {
           podSelector: podSelector(c.pod_labels),
           policyTypes: ['Egress'],
           egress: [{ to: world, ports: c.egress_world_ports }],
         })] else [])
      for c in all
      if included(c.namespace)
    ]);

    local key(p) = p.metadata.namespace + ' ' + p.metadata.name;
    local sorted = std.sort(base + routes + uses + edges, key);
    local keys = [key(p) for p in sorted];
    assert std.length(std.set(keys)) == std.length(keys) : 'network-policies: two policies share a name: %s' % std.join(', ', keys);
    sorted,
}
