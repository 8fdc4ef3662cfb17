-- next_update.lua: reads a chat's pending update with the lowest id (no writes).
--
-- KEYS[1]: the chat's pending ids (sorted set)   KEYS[2]: the chat's pending updates (hash)
-- ARGV: none
-- Returns the encoded update, or false when nothing is pending.

local head = redis.call('ZRANGE', KEYS[1], 0, 0)
if not head[1] then return false end
return redis.call('HGET', KEYS[2], head[1])
