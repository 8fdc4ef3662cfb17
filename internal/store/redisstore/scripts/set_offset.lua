-- set_offset.lua: raises the stored getUpdates offset, never lowers it.
--
-- KEYS[1]: the offset   ARGV[1]: the new offset (decimal)
-- Returns 1 when stored, 0 when the stored one was higher or equal.

local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
