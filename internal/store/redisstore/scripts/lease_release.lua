-- lease_release.lua: gives up a lease if owner holds it (compare-and-delete).
--
-- KEYS[1]: the lease   ARGV[1]: owner
-- Returns 1 when released, 0 when owner did not hold it.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
