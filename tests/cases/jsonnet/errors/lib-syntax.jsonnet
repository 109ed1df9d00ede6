// A syntax error in a library is reported in the library.
local broken = import 'hydrate-test/broken.libsonnet';

broken
