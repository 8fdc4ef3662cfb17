-- clear_set.lua: sets, replaces or cancels a chat's scheduled clear.
--
-- KEYS[1]: scheduled clears (hash chat -> encoded time followed by the sealed target)
-- KEYS[2]: their index (sorted set of members: encoded time, separator, chat; every score 0)
-- ARGV[1]: chat   ARGV[2]: the new member, or '' to cancel   ARGV[3]: the new value
-- ARGV[4]: length of an encoded time   ARGV[5]: the members' separator
-- Returns 1 when a clear is scheduled now, 0 when none is.

local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  redis.call('ZREM', KEYS[2], string.sub(old, 1, tonumber(ARGV[4])) .. ARGV[5] .. ARGV[1])
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 1
