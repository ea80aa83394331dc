-- user_sessions: KEYS[1] = user index; ARGV = prefix, now, index suffix.
-- Returns flat {member, c, ls, idle, abs, ...} for members whose hash still exists and is
-- still bound to this user. Read-only.
local prefix, now_s, u = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_s, '+inf')) do
  local s = times(redis.call('HGET', prefix .. 's:' .. m, 't'))
  if s and s.u == u then
    for _, v in ipairs({ m, int(s.c), int(s.ls), int(s.idle), int(s.abs) }) do
      out[#out + 1] = v
    end
  end
end
return out
