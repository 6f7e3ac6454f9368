-- spread: a retry avoids the workers its previous attempts ran on; among
-- the others it takes the least loaded. When every candidate was already
-- tried it takes the least loaded of all rather than wait.
function pick(job, workers, state)
  local prev = job.previous_workers
  local w = nil
  if #prev > 0 then w = pagoda.least_loaded(workers, prev) end
  if w == nil then w = pagoda.least_loaded(workers) end
  if w then return w.id end
  return nil, "no candidate worker"
end
