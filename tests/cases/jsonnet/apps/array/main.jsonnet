// Shape 2: an array. Not a function: the context comes through std.extVar.
local kube = import 'github.com/acme/kube/kube.libsonnet';
local env = std.extVar('env');
local domain = std.extVar('root_domain');
local components = std.extVar('components');

[
  kube.configMap('hosts-' + c.name, c.namespace, { hosts: std.join(',', c.hosts), env: env })
  for c in components
  if std.length(c.hosts) > 0
] + [
  if std.get(std.extVar('features'), 'debug', false) then kube.configMap('debug', 'apps', { domain: domain }),
  kube.service('array', 'apps', 8080),
]
