-- Shared preamble of every fenced write (prepended by scripts.ts to commit, set-sequences, trim and reset).
--
-- guard(meta, epoch, cycle) refuses, before anything is written:
--   FIXMESH_STALE <current>  the writer's epoch is below the session's: a newer leader fenced it (ARCHITECTURE.md,
--                            "Fencing"); the deposed leader must stop sending and drop its socket.
--   FIXMESH_CYCLE <current>  the session's cycle is no longer the writer's: another writer with the same epoch
--                            reset it, so this writer's sequence numbers belong to a cycle that is gone.
--   FIXMESH_GONE             the session's metadata is missing (keys deleted behind the writer's back).
-- Epochs are compared as numbers (up to 2^48-1, exact in Lua's doubles) but never written back from Lua numbers:
-- Lua 5.1 would format 2^48-1 as 2.8147497671066e+14. Every value written comes verbatim from ARGV.
local function guard(meta, epoch, cycle)
  local cur = redis.call('HMGET', meta, 'epoch', 'cycle')
  if not cur[1] or not cur[2] then
    return redis.error_reply('FIXMESH_GONE')
  end
  if tonumber(epoch) < tonumber(cur[1]) then
    return redis.error_reply('FIXMESH_STALE ' .. cur[1])
  end
  if cycle ~= cur[2] then
    return redis.error_reply('FIXMESH_CYCLE ' .. cur[2])
  end
  return nil
end

