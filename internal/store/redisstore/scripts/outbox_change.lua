-- outbox_change.lua: removes a message (sent or failed) or reschedules it (retry), and
-- re-indexes its chat.
--
-- KEYS[1]: messages (id -> JSON)   KEYS[2]: the chat's queue (id by seq)
-- KEYS[3]: due set   KEYS[4]: head hash
-- ARGV[1]: message id   ARGV[2]: chat the caller read for it
-- ARGV[3]: 'remove' or 'retry'   ARGV[4]: retry due time (text)   ARGV[5]: retry due time, µs
-- Returns 1 when done, 0 when there is no such message, -1 when the message belongs to another
-- chat than ARGV[2] (the caller's read is stale; nothing written).

local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local m = cjson.decode(raw)
if m.c ~= ARGV[2] then return -1 end
if ARGV[3] == 'retry' then
  m.a = m.a + 1
  m.d = ARGV[4]
  m.s = ARGV[5]
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
outbox_head(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[2])
return 1
