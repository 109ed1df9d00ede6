// Shape 1: one object. A top-level function taking only the arguments it needs.
local deployment = import 'deployment.libsonnet';

function(env, values)
  deployment('single', env, values.replicas, values.image)
