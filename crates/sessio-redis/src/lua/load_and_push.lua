-- load_and_push: KEYS[1] = session; ARGV = prefix, now, touch interval (whole secs), value
-- name, element (the JSON of one list item).
-- Returns nil (absent, unreadable or expired: nothing written) or {status, touched (0/1),
-- the session's HGETALL reply with the value and its version as written, less the
-- script-only fields}, status 1 = appended, 2 = the value is not a list (nothing appended).
-- Redis 7 hashes every byte of every string a script makes, so a script costs what it
-- copies: one HGETALL and at most one HSET, and the reply is the HGETALL table itself
-- (callgrind on redis-server 7.0, a 32-item cart: 170k instructions per call with HMGET +
-- HGET + HSET + HINCRBY + HGETALL and the reply packed into one string, 115k now).
local key, prefix, now_s = KEYS[1], ARGV[1], ARGV[2]
local now = tonumber(now_s)
local vname, nname = 'v:' .. ARGV[4], 'n:' .. ARGV[4]
local h = redis.call('HGETALL', key)
local ls, idle, abs, u, vi, ni = scan(h, vname, nname)
if not ls or not idle or not abs or now >= deadline(ls, idle, abs) then return false end
local touched = 0
if idle > 0 and now - ls >= tonumber(ARGV[3]) then
  slide(prefix, now_s, key, now_s, idle, abs, u)
  touched = 1
end
-- The hash less the fields only scripts read (idle, abs, c, u: the caller has them in m),
-- compacted in place. Redis spends more on the loop than it saves on the reply (callgrind,
-- 3000 cart adds: +2.6k instructions per call; +4.6k with a new table instead), but the
-- caller, whose RESP parser costs far more per string, spends 13k fewer.
local function for_caller(h)
  local j, n = 1, #h
  for i = 1, n, 2 do
    local f = h[i]
    if f ~= 'idle' and f ~= 'abs' and f ~= 'c' and f ~= 'u' then
      h[j], h[j + 1] = f, h[i + 1]
      j = j + 2
    end
  end
  for k = n, j, -1 do h[k] = nil end
  return h
end

-- Values are compact JSON, so appending to an array is splicing before its closing bracket
-- (the same rule as `sessio::append_to_list`).
local element = ARGV[5]
local list = vi and h[vi]
local appended
if not list or list == '[]' then
  appended = '[' .. element .. ']'
elseif string.sub(list, 1, 1) == '[' and string.sub(list, -1) == ']' then
  appended = string.sub(list, 1, -2) .. ',' .. element .. ']'
end
if not appended then return { 2, touched, for_caller(h) } end
local version = int((ni and tonumber(h[ni]) or 0) + 1)
redis.call('HSET', key, vname, appended, nname, version)
if vi then h[vi] = appended else h[#h + 1] = vname; h[#h + 1] = appended end
if ni then h[ni] = version else h[#h + 1] = nname; h[#h + 1] = version end
return { 1, touched, for_caller(h) }
