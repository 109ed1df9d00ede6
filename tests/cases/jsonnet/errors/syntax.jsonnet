// A missing comma between two fields.
{
  a: 1
  b: 2,
}
