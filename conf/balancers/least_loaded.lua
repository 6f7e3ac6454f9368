-- least_loaded: the built-in rule as a script. A retry or a relaunch goes
-- to a worker its earlier attempts did not run on when one is a candidate;
-- among those (or among all, when every candidate was tried) the one with
-- the most free slots, then the lowest 1-minute load, then the fewest
-- running executions. The comparison runs in C (pagoda.least_loaded), the
-- same order as the built-in fallback, so this script costs one call
-- whatever the number of workers.
function pick(job, workers, state)
  local w = nil
  local prev = job.previous_workers
  if prev and #prev > 0 then w = pagoda.least_loaded(workers, prev) end
  if w == nil then w = pagoda.least_loaded(workers) end
  if w then return w.id end
  return nil, "no candidate worker"
end
