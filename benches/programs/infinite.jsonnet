// Infinite recursion: both evaluators must stop at their stack limit with an error.
function(depth=0)
  local f(n) = f(n + 1) + 1;
  f(depth)
