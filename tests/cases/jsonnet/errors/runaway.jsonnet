// Bounded depth (40) but 2^40 calls: stopped by the time limit.
local f(n) = if n == 0 then 0 else f(n - 1) + f(n - 1);

f(40)
