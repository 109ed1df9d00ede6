{
  apiVersion: 'v1',
  kind: unknown_variable,
}
