// `error` raised while evaluating a field.
local check(x) =
  if x > 1 then error 'boom' else x;

{ apiVersion: 'v1', kind: 'ConfigMap', data: { n: check(2) } }
