-- apply.lua: one atomic change to the ledger — a turn (intake.Commit), a case update, claim,
-- release, escalation, shredding or a bare audit append. Every part of the plan is optional.
--
-- KEYS: every key the change touches, all in the ledger slot; the plan names them by position.
-- ARGV[1]: the plan, JSON:
--   sess:  {k, expect, data?, ttl}   session hash; expected version ("0": none); ARGV index of
--                                    the sealed session (absent: delete); idle TTL in ms ("0":
--                                    none). Expiry runs on the server's clock (PEXPIRE).
--   done:  {q, b, chats, chat, id}   inbox update id of chat to mark done: it must be pending.
--   cases: [{k, ref, expect, guard?, by_was?, doc, v, st, team, by, esc, owner, cm, qm?, om?,
--            all, tnew, snew, qnew, ov, told?, sold?, qold?, link?, unlink?}]
--                                    case writes (see case_check and case_put in lib.lua).
--   out:   {msg, seq, due, head, items: [{id, chat, q, doc}]}   outbox messages to enqueue.
--   audit: {head, log, after, items: [{seq, doc, hash}]}  entries linked after entry `after`.
-- ARGV[2..]: the binary values the plan names by position.
-- Returns, with nothing written unless the first element is 'ok':
--   {'ok', version}       the session's new version ("0" when deleted or absent)
--   {'conflict', field}   the session version moved ("sess") or the update was not pending
--                         ("done"): the caller's turn is stale
--   {'dupid'}             an outbox id is taken
--   a case_check reply    ({'exists'}, {'notfound'}, {'claimed', by, st}, ...)
--   {'stale'}             the audit head or a case moved since the caller read it: read again

local p = cjson.decode(ARGV[1])

-- Checks, before any write.
local cur = '0'
if p.sess then
  cur = redis.call('HGET', K(p.sess.k), 'v') or '0'
  if cur ~= p.sess.expect then return {'conflict', 'sess'} end
end
if p.done then
  if not redis.call('ZSCORE', K(p.done.q), p.done.id) then return {'conflict', 'done'} end
end
for _, c in ipairs(p.cases or {}) do
  local r = case_check(c)
  if r then return r end
end
if p.out then
  local r = outbox_check(p.out)
  if r then return r end
end
if p.audit then
  local r = audit_check(p.audit)
  if r then return r end
end

-- Writes.
local v = 0
if p.sess then
  local k = K(p.sess.k)
  if p.sess.data then
    v = tonumber(cur) + 1
    redis.call('HSET', k, 'v', string.format('%d', v), 'b', A(p.sess.data))
    if p.sess.ttl ~= '0' then
      redis.call('PEXPIRE', k, p.sess.ttl)
    else
      redis.call('PERSIST', k)
    end
  else
    redis.call('DEL', k)
  end
end
if p.done then
  inbox_done(K(p.done.q), K(p.done.b), K(p.done.chats), p.done.chat, p.done.id)
end
for _, c in ipairs(p.cases or {}) do case_put(c) end
if p.out then outbox_put(p.out) end
if p.audit then audit_put(p.audit) end
return {'ok', string.format('%d', v)}
