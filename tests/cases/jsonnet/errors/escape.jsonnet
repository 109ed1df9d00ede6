// Reaches above the repository root.
local outside = import '../../x.libsonnet';

outside
