package ledgerstore

import "github.com/redis/go-redis/v9"

// The ledger's Lua scripts. Each touches only keys of one batch (one hash tag, so one
// Cluster slot); states and field names are the Go constants (state.go, schema.go),
// written out here: schema_test.go fails on any name a script spells that no
// constant holds. settleScript's pending is Pending's formula.

// createScript writes a manifest only if none exists, and only for the commit that
// holds the batch id's claim (its parts are the ones moved in); the moved keys
// then belong to the manifest and lose their staging expiry. The HSET comes
// first: a Redis that refuses it (OOM) has persisted nothing.
//
//	KEYS[1] manifest
//	KEYS[2] the commit claim
//	KEYS[3..] the keys moved under the batch id (parts, rejects)
//	ARGV[1] the staging id that must hold the claim
//	ARGV[2] n, the number of manifest arguments that follow
//	ARGV[3..] field, value, field, value, … (the whole manifest)
//	returns 1 when written, 0 when a manifest existed (left as it was), -1 when the
//	claim is not this commit's (it lapsed and another run took it)
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + tonumber(ARGV[2])))
for i = 3, #KEYS do redis.call('PERSIST', KEYS[i]) end
redis.call('DEL', KEYS[2])
return 1`)

// releaseScript undoes a commit that failed before its manifest: it deletes the
// keys it moved and its claim, so that a re-run can take the batch id at once.
//
//	KEYS[1] the commit claim
//	KEYS[2] manifest
//	KEYS[3..] the keys moved under the batch id
//	ARGV[1] the staging id that must hold the claim
//	returns 1 released, 0 not this commit's to release
var releaseScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('DEL', KEYS[1])
return 1`)

// markScript marks a call in flight and its part running, atomically with the
// operator's controls: after cancel or pause is set, no mark is made, so no call
// starts.
//
//	KEYS[1] manifest
//	KEYS[2] part state
//	ARGV[1] the in-flight field ("inflight:<lo>-<hi>")
//	ARGV[2] now, ms
//	returns 1 marked; 0 the part is final already (a redelivered task racing the one
//	that settled it); -1 no such batch; -2 cancelled; -3 paused; -4 the range is
//	marked already: another attempt of the part is calling (only reconcile, at the
//	start of an attempt, clears a mark a dead worker left)
var markScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local ctl = redis.call('HGET', KEYS[1], 'control')
if ctl == 'cancelled' then return -2 end
if ctl == 'paused' then return -3 end
local st = redis.call('HGET', KEYS[2], 'state')
if st == 'done' or st == 'failed' or st == 'cancelled' then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -4 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2], 'state', 'running')
redis.call('HDEL', KEYS[2], 'resume_at', 'wait_reason')
return 1`)

// recordScript sets the range's done field once and, only then, moves the batch
// counters and appends the outcomes: a call recorded twice counts once, and a range
// that overlaps one recorded already (a part given up while its last call was in
// flight) is not counted again.
//
//	KEYS[1] part state
//	KEYS[2] manifest
//	KEYS[3] part outcomes
//	ARGV[1] the done field ("done:<lo>-<hi>"), ARGV[2] its summary (JSON)
//	ARGV[3] the in-flight field to clear
//	ARGV[4..8] delivered, refused, failed, uncertain, suppressed counts
//	ARGV[9] n, the number of extras; ARGV[10..9+2n] extra name, value pairs
//	ARGV[10+2n..] outcomes (JSON), appended to KEYS[3]
//	returns 1 recorded; 0 recorded before; -1 no such batch; -2 overlaps a range
//	recorded before
var recordScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local lo, hi = string.match(ARGV[1], '^done:(%d+)-(%d+)$')
lo, hi = tonumber(lo), tonumber(hi)
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  local a, b = string.match(f, '^done:(%d+)-(%d+)$')
  if a and tonumber(a) < hi and lo < tonumber(b) then return -2 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[3])
local names = {'delivered', 'refused', 'failed', 'uncertain', 'suppressed_late'}
for i = 1, 5 do
  local n = tonumber(ARGV[3 + i])
  if n ~= 0 then redis.call('HINCRBY', KEYS[2], names[i], n) end
end
local nextra = tonumber(ARGV[9])
for i = 1, nextra do
  redis.call('HSET', KEYS[1], 'x:' .. ARGV[8 + 2 * i], ARGV[9 + 2 * i])
end
for i = 10 + 2 * nextra, #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i])
end
return 1`)

// settleScript moves a part to a state and keeps the count of final parts. The
// batch finishes when every part is final and no number is pending; each finish
// takes the next generation, the id of its announcement. A part leaving a final
// state re-opens a finished batch.
//
//	KEYS[1] part state
//	KEYS[2] manifest
//	ARGV[1] the new part state
//	ARGV[2] now, ms
//	ARGV[3] resume at, ms (throttled, paused, waiting, retrying), or ""
//	ARGV[4] why it waits, or ""
//	returns {code, generation}: code 1 the batch finished, 2 a finished batch
//	re-opened, 0 neither, -1 no such batch, -2 a final part cannot wait (a late
//	attempt racing the one that settled it)
var settleScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0} end
local prev = redis.call('HGET', KEYS[1], 'state') or 'queued'
local final = {done = true, failed = true, cancelled = true}
local waits = {throttled = true, paused = true, waiting = true, retrying = true}
if final[prev] and waits[ARGV[1]] then return {-2, 0} end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'resume_at', ARGV[3], 'wait_reason', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'resume_at', 'wait_reason')
end
local delta = 0
if final[ARGV[1]] and not final[prev] then delta = 1 end
if final[prev] and not final[ARGV[1]] then delta = -1 end
local n = tonumber(redis.call('HINCRBY', KEYS[2], 'parts_final', delta))
if ARGV[1] == 'queued' then
  -- queued again by an operator (retry, resolve resend): a fresh budget
  redis.call('HDEL', KEYS[1], 'failures', 'throttles')
end
local m = redis.call('HMGET', KEYS[2], 'parts', 'state', 'accepted', 'delivered', 'refused', 'failed', 'uncertain', 'suppressed_late')
local pending = tonumber(m[3]) - tonumber(m[4] or 0) - tonumber(m[5] or 0) - tonumber(m[6] or 0) - tonumber(m[7] or 0) - tonumber(m[8] or 0)
if n >= tonumber(m[1]) and pending == 0 and m[2] ~= 'finished' then
  local gen = redis.call('HINCRBY', KEYS[2], 'finish_gen', 1)
  redis.call('HSET', KEYS[2], 'state', 'finished', 'finished_at', ARGV[2])
  return {1, gen}
end
if (n < tonumber(m[1]) or pending ~= 0) and m[2] == 'finished' then
  redis.call('HSET', KEYS[2], 'state', 'enqueued')
  redis.call('HDEL', KEYS[2], 'finished_at')
  return {2, 0}
end
return {0, 0}`)

// finishEmptyScript finishes a batch with no parts the moment it exists.
//
//	KEYS[1] manifest
//	ARGV[1] now, ms
//	returns the finish generation, 0 when it had finished already, -1 no such batch
var finishEmptyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'state') == 'finished' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'finished', 'finished_at', ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'finish_gen', 1)`)

// controlScript sets or clears an operator's hold on a batch.
//
//	KEYS[1] manifest
//	ARGV[1] the control: "paused", "cancelled", or "" to resume
//	returns 1 set; 0 it was set already; -1 no such batch; -2 the batch has finished;
//	-3 the batch is cancelled (nothing to pause or resume)
var controlScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'state') == 'finished' then return -2 end
local cur = redis.call('HGET', KEYS[1], 'control') or ''
if cur == 'cancelled' then
  if ARGV[1] == 'cancelled' then return 0 end
  return -3
end
if cur == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'control', ARGV[1])
return 1`)

// announcedScript records that a finish generation's announcement went out on
// (field "announced_gen") the events stream or (field "webhook_gen") the webhook.
//
//	KEYS[1] manifest
//	ARGV[1] the field, ARGV[2] the generation
//	returns 1 when this call recorded it, 0 when it was recorded before, -1 no such batch
var announcedScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if cur >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`)

// finishedAtScript reports whether a batch is finished at generation gen (not
// re-opened since, and not finished again).
//
//	KEYS[1] manifest
//	ARGV[1] the generation
//	returns 1 finished at that generation, 0 not, -1 no such batch
var finishedAtScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'state') ~= 'finished' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'finish_gen') or '0') ~= tonumber(ARGV[1]) then return 0 end
return 1`)

// repeatScript counts one call's identical refusals in a row.
//
//	KEYS[1] part state
//	ARGV[1] the repeat field ("repeat:<lo>-<hi>"), ARGV[2] the refusal (code and message)
//	returns how many times in a row the call was refused so
var repeatScript = redis.NewScript(`
local prev = redis.call('HGET', KEYS[1], ARGV[1] .. ':err')
local n = 1
if prev == ARGV[2] then n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') + 1 end
redis.call('HSET', KEYS[1], ARGV[1], n, ARGV[1] .. ':err', ARGV[2])
return n`)

// claimScript lets one commit of a batch id move its staged parts: two runs of the
// same command racing must not RENAME their parts over each other.
//
//	KEYS[1] the claim
//	KEYS[2] manifest
//	ARGV[1] the staging id claiming, ARGV[2] the claim's lifetime, ms
//	returns 1 claimed (or claimed before by this staging id: the claim is renewed);
//	0 another commit holds it; 2 the manifest exists already
var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)
