// Deep but finite recursion building nested data (depth 400 < max stack).
local nest(n) = if n == 0 then {} else { child: nest(n - 1) };

{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'deep' }, data: { depth: std.toString(400) }, nest: nest(400) }
