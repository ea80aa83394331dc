-- revoke_user: KEYS[1] = user index; ARGV = prefix, now, index suffix, member to keep ('').
-- Deletes every session of the user except the one to keep; returns how many of the
-- deleted ones were live at `now`.
local prefix, now_s, u, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(now_s)
local n = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if m ~= keep then
    local key = prefix .. 's:' .. m
    local s = times(redis.call('HGET', key, 't'))
    if s and s.u == u then
      redis.call('DEL', key)
      if now < deadline(s.ls, s.idle, s.abs) then n = n + 1 end
    end
    redis.call('ZREM', KEYS[1], m)
  end
end
tidy(KEYS[1], now_s)
return n
