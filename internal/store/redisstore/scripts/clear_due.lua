-- clear_due.lua: reads the scheduled clears that are due, earliest first (no writes).
--
-- KEYS[1]: index of scheduled clears (sorted set, every score 0)   KEYS[2]: scheduled clears
-- ARGV[1]: exclusive upper bound of the members that are due   ARGV[2]: at most this many
-- ARGV[3]: where the chat starts in a member
-- Returns a flat list chat1, value1, chat2, value2, ...

local ms = redis.call('ZRANGEBYLEX', KEYS[1], '-', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, m in ipairs(ms) do
  local chat = string.sub(m, tonumber(ARGV[3]))
  local v = redis.call('HGET', KEYS[2], chat)
  if v then
    out[#out + 1] = chat
    out[#out + 1] = v
  end
end
return out
