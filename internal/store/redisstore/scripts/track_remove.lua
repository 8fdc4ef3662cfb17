-- track_remove.lua: removes ids from a chat's tracked set; ids not tracked are ignored. The set
-- keeps its lifetime (Redis deletes the keys once they are empty).
--
-- KEYS[1]: the chat's tracked messages (hash id -> member)
-- KEYS[2]: the same members by time, then id (sorted set)
-- ARGV[1], ARGV[2], ...: the ids, in decimal
-- Returns how many were removed.

local n = 0
for _, id in ipairs(ARGV) do
  local m = redis.call('HGET', KEYS[1], id)
  if m then
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[2], m)
    n = n + 1
  end
end
return n
