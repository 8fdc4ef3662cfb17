-- lease_acquire.lua: takes a free lease or renews one's own.
--
-- KEYS[1]: the lease   ARGV[1]: owner   ARGV[2]: lifetime, ms (server clock: PX)
-- Returns 1 when owner holds the lease now, 0 when someone else does.

local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
