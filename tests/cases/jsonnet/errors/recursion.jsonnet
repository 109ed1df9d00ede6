// No base case: must end in an error, not a crash.
local f(n) = f(n + 1) + 1;

f(0)
