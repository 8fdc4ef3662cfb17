-- outbox_drop.lua: removes every pending message of a chat.
--
-- KEYS[1]: messages   KEYS[2]: the chat's queue   KEYS[3]: due set   KEYS[4]: head hash
-- ARGV[1]: chat
-- Returns how many messages were removed.

local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, id in ipairs(ids) do redis.call('HDEL', KEYS[1], id) end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return #ids
