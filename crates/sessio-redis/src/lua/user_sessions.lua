-- user_sessions: KEYS[1] = user index; ARGV = prefix, now, index suffix.
-- Returns flat {member, c, ls, idle, abs, ...} for members whose hash still exists and is
-- still bound to this user. Read-only.
local prefix, now_s, u = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_s, '+inf')) do
  local f = redis.call('HMGET', prefix .. 's:' .. m, 'c', 'ls', 'idle', 'abs', 'u')
  if f[5] == u then
    for _, v in ipairs({ m, f[1], f[2], f[3], f[4] }) do out[#out + 1] = v end
  end
end
return out
