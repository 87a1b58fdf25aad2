/**
 * Lua scripts, each one atomic step on the server. Numbers stay below 2^53, which Redis' Lua
 * (doubles) holds exactly; they are formatted with %d, never tostring (which would print 1e+12).
 */

/**
 * Publish one batch, split by shard, all or nothing. KEYS: ids, backlog, backlog-bytes, then for
 * each part its stream and its shard's last-id key. ARGV: maxEvents, maxBytes, nowMs, floor (the
 * newest id this publisher knows of: ids continue above it if Redis lost its counter in a
 * restart), then for each part its event count, payload size and payload. Refuses (returns {-1, backlog,
 * backlogBytes}) when a non-empty backlog would pass a bound — an empty one always admits a
 * batch, as the memory queue does. Else assigns consecutive ids `ms-seq0 ..` (ms = max(now, last
 * ms): a clock that steps back never makes ids go back), adds each part as one entry under the
 * id of its last event, and returns {ms, seq0}.
 */
export const PUBLISH = `
local parts = (#ARGV - 4) / 3
local n, bytes = 0, 0
for p = 0, parts - 1 do
  n = n + tonumber(ARGV[5 + p * 3])
  bytes = bytes + tonumber(ARGV[6 + p * 3])
end
local backlog = tonumber(redis.call('GET', KEYS[2]) or '0')
local backlogBytes = tonumber(redis.call('GET', KEYS[3]) or '0')
if backlog > 0 and (backlog + n > tonumber(ARGV[1]) or backlogBytes + bytes > tonumber(ARGV[2])) then
  return {-1, backlog, backlogBytes}
end
local now = tonumber(ARGV[3])
local lms, lseq = 0, -1
local last = redis.call('GET', KEYS[1]) or ARGV[4]
if last ~= '' then
  local d = string.find(last, '-', 1, true)
  lms = tonumber(string.sub(last, 1, d - 1))
  lseq = tonumber(string.sub(last, d + 1))
end
local ms = now
if lms > ms then ms = lms end
local seq0 = 0
if ms == lms then seq0 = lseq + 1 end
local seq = seq0
local id
for p = 0, parts - 1 do
  seq = seq + tonumber(ARGV[5 + p * 3])
  id = string.format('%d-%d', ms, seq - 1)
  redis.call('XADD', KEYS[4 + p * 2], id, 'e', ARGV[7 + p * 3])
  redis.call('SET', KEYS[5 + p * 2], id)
end
redis.call('SET', KEYS[1], id)
redis.call('INCRBY', KEYS[2], n)
redis.call('INCRBY', KEYS[3], bytes)
return {string.format('%d', ms), seq0}
`;

/**
 * The live watermark: the newest id W such that every event with an id ≤ W is committed, over
 * all shards. KEYS: ids, then for each shard its last-id key and its watermark key. A shard whose
 * last entry is at or below its watermark has nothing uncommitted, so it holds W back no further
 * than the last id handed out (ids and entries are written in one script, so nothing is between).
 * Returns W ("ms-seq"), or false when no id was ever handed out.
 */
export const LIVE_WATERMARK = `
local function less(a, b)
  local da = string.find(a, '-', 1, true)
  local db = string.find(b, '-', 1, true)
  local ma, mb = tonumber(string.sub(a, 1, da - 1)), tonumber(string.sub(b, 1, db - 1))
  if ma ~= mb then return ma < mb end
  return tonumber(string.sub(a, da + 1)) < tonumber(string.sub(b, db + 1))
end
local top = redis.call('GET', KEYS[1])
if not top then return false end
local w = top
for i = 2, #KEYS, 2 do
  local last = redis.call('GET', KEYS[i])
  local wm = redis.call('GET', KEYS[i + 1])
  if last and (not wm or less(wm, last)) then
    local eff = wm or '0-0'
    if less(eff, w) then w = eff end
  end
end
return w
`;

/**
 * After a commit. KEYS: stream, watermark, backlog, backlog-bytes, lease. ARGV: group, owner,
 * wm, then each entry's id, event count and payload size (id1, n1, b1, id2, ...). Acknowledges
 * the entries, counts only the ones that were still pending out of the backlog (an entry
 * delivered twice is not counted twice), raises the watermark. Returns the number acknowledged,
 * or -1 when the lease is no longer this writer's (then nothing changes but the XACK: the rows
 * are in the store, and the new owner's watermark will pass them).
 */
export const ACK = `
local acked = 0
local events = 0
local bytes = 0
for i = 4, #ARGV, 3 do
  local a = redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  if a == 1 then
    acked = acked + 1
    events = events + tonumber(ARGV[i + 1])
    bytes = bytes + tonumber(ARGV[i + 2])
  end
end
if acked > 0 then
  redis.call('DECRBY', KEYS[3], events)
  redis.call('DECRBY', KEYS[4], bytes)
end
if redis.call('GET', KEYS[5]) ~= ARGV[2] then return -1 end
local cur = redis.call('GET', KEYS[2])
local function after(a, b)
  if not b then return true end
  local da = string.find(a, '-', 1, true)
  local db = string.find(b, '-', 1, true)
  local ma, mb = tonumber(string.sub(a, 1, da - 1)), tonumber(string.sub(b, 1, db - 1))
  if ma ~= mb then return ma > mb end
  return tonumber(string.sub(a, da + 1)) > tonumber(string.sub(b, db + 1))
end
if after(ARGV[3], cur) then redis.call('SET', KEYS[2], ARGV[3]) end
return acked
`;

/** Renew a lease if it is still ours. KEYS: lease. ARGV: owner, ttlMs. Returns 1 when renewed. */
export const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** Release a lease if it is ours. KEYS: lease. ARGV: owner. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
