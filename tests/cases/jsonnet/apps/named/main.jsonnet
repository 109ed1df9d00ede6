// Shape 3: an object of named objects, emitted in key order.
local kube = import 'github.com/acme/kube/kube.libsonnet';
local labels = import 'hydrate-test/labels.libsonnet';

function(env, root_domain, features, values, components) {
  zz_banner: kube.configMap('banner', 'apps', { 'banner.txt': importstr 'banner.txt' }),
  aa_settings: kube.configMap('settings', 'apps', {
    env: env,
    url: 'https://named.' + root_domain,
    features: std.manifestJsonMinified(features),
    count: std.toString(std.length(components)),
    ratio: std.toString(values.ratio),
    source: std.thisFile,
  }) + { metadata+: { labels: labels.labels('named', env) } },
  mm_service: kube.service('named', 'apps', values.port),
}
