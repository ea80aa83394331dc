-- load: KEYS[1] = session; ARGV = prefix, now, touch interval (whole secs).
-- Returns nil (absent or expired) or {touched (0/1), the HGETALL reply before the touch}.
local key, prefix, now_s = KEYS[1], ARGV[1], ARGV[2]
local now = tonumber(now_s)
local h = redis.call('HGETALL', key)
if #h == 0 then return false end
local s = scan(h)
-- Unreadable: hand it to the caller untouched, which reports it and treats it as absent.
if not s then return { 0, h } end
if now >= deadline(s.ls, s.idle, s.abs) then return false end
local touched = 0
if s.idle > 0 and now - s.ls >= tonumber(ARGV[3]) then
  slide(prefix, now_s, key, s, now_s)
  touched = 1
end
return { touched, h }
