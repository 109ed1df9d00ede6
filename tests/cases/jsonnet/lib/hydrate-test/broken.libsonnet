// A syntax error inside a library.
{
  broken:: function(x) x +,
}
