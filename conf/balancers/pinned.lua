-- pinned ("one-manually"): the job names the node it must run on, as
-- params.node or balancer_args.node (balancer_args wins). When that worker
-- is not a candidate (gone, draining, full, wrong labels) the job waits.
function pick(job, workers, state)
  local node = job.balancer_args.node or job.params.node
  if type(node) ~= "string" or node == "" then
    return nil, "pinned balancer: set balancer_args.node (or params.node) to a worker id or host"
  end
  local w = pagoda.find(workers, node)
  if w then return w.id end
  -- Accept a host name as well as a worker id.
  for i = 1, #workers do
    local c = workers[i]
    if c.host == node then return c.id end
  end
  return nil, "pinned to " .. node .. ", which is not available (down, draining, full or not matching)"
end
