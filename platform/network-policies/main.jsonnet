// The `network-policies` platform component: default-deny NetworkPolicies for every namespace
// of the environment, plus the allows each component declares (see lib/hydrate/netpol.libsonnet
// and the "Jsonnet components" section of the README).
local netpol = import 'hydrate/netpol.libsonnet';

function(components, values={})
  netpol.policies(components, if values == null then {} else values)
