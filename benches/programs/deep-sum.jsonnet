// Deep non-tail recursion: `depth` nested calls.
function(depth=400)
  local sum(n) = if n == 0 then 0 else n + sum(n - 1);
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sum' }, data: { sum: std.toString(sum(depth)) } }
