// Realistic program: 250 tenants x 8 objects = 2,000 Kubernetes objects, returned as an array.
local kube = import 'kube.libsonnet';

function(tenants=250)
  std.flattenArrays([kube.tenant('t%03d' % i, i) for i in std.range(0, tenants - 1)])
