// Deep data: an object nested `depth` levels, built recursively and then manifested.
function(depth=400)
  local nest(n) = if n == 0 then {} else { child: nest(n - 1) };
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nest' }, nest: nest(depth) }
