// Neither an object, an array of objects nor an object of named objects.
[{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ok' } }, 'not an object']
