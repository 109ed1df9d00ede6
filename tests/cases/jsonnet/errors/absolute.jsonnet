// No file outside the repository can be read, even as a string.
{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { passwd: importstr '/etc/passwd' } }
