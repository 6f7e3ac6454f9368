-- least_loaded: the candidate with the most free slots, then the lowest
-- 1-minute load, then the fewest running executions. The comparison runs
-- in C (pagoda.least_loaded), the same order as the built-in fallback, so
-- this script costs one call whatever the number of workers.
function pick(job, workers, state)
  local w = pagoda.least_loaded(workers)
  if w then return w.id end
  return nil, "no candidate worker"
end
