-- label_affinity: prefer workers carrying the labels of
-- balancer_args.prefer_labels (a list, or one string): the candidate
-- carrying the most of them wins; ties, and jobs with no preference, go to
-- the least loaded (most free slots, then lowest load, then fewest running).
-- Preferences are soft: the hard `labels` of a job were applied before the
-- script runs. The scoring runs in C (pagoda.least_loaded's third argument),
-- so the cost does not grow with Lua work per worker.
function pick(job, workers, state)
  local prefer = job.balancer_args.prefer_labels
  if type(prefer) == "string" then prefer = { prefer } end
  if type(prefer) ~= "table" then prefer = nil end
  local w = pagoda.least_loaded(workers, nil, prefer)
  if w then return w.id end
  return nil, "no candidate worker"
end
