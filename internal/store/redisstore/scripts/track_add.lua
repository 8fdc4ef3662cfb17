-- track_add.lua: adds messages to a chat's tracked set (an id already there keeps its member,
-- hence its first time), drops the oldest beyond the limit and renews the set's lifetime.
--
-- KEYS[1]: the chat's tracked messages (hash id -> member)
-- KEYS[2]: the same members by time, then id (sorted set, every score 0)
-- ARGV[1]: lifetime, ms (server clock: PEXPIRE)   ARGV[2]: at most this many are kept
-- ARGV[3]: where the decimal id starts in a member
-- ARGV[4], ARGV[5], ...: id, member of each message to add
-- Returns how many messages were dropped.

for i = 4, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[2], 0, ARGV[i + 1])
  end
end
local dropped = 0
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[2])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  for _, m in ipairs(old) do
    redis.call('ZREM', KEYS[2], m)
    redis.call('HDEL', KEYS[1], string.sub(m, tonumber(ARGV[3])))
  end
  dropped = #old
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return dropped
