-- rate_hit.lua: counts one event in a fixed window; the counter expires with its window.
--
-- KEYS[1]: the window's counter   ARGV[1]: its lifetime, ms (server clock: PEXPIRE)
-- Returns the count so far.

local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
