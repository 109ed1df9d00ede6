// The error is raised in a library; the trace shows both files.
local bad = import 'hydrate-test/bad.libsonnet';

bad.explode('now')
