-- Restarts the lock's time to live, only while it holds this holder's term.
-- KEYS[1] the lock; ARGV[1] "<epoch> <identity>", ARGV[2] time to live (ms)
-- Returns 1 when renewed, 0 when the lock is gone or someone else's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
