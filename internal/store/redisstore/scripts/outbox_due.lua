-- outbox_due.lua: reads the first message of each chat whose first message is due (no writes).
--
-- KEYS[1]: due set (chat scored by its first message's due time, µs)
-- KEYS[2]: head hash (chat -> first message id)   KEYS[3]: messages (id -> JSON)
-- ARGV[1]: now, µs (floor)   ARGV[2]: at most this many chats
-- Returns a flat list id1, msg1, id2, msg2, ..., longest waiting first.

local chats = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
if #chats == 0 then return out end
local ids = redis.call('HMGET', KEYS[2], unpack(chats))
for _, id in ipairs(ids) do
  if id then
    local m = redis.call('HGET', KEYS[3], id)
    if m then
      out[#out + 1] = id
      out[#out + 1] = m
    end
  end
end
return out
