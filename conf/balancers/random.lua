-- random: a uniformly random candidate.
function pick(job, workers, state)
  local n = #workers
  if n == 0 then return nil, "no candidate worker" end
  return workers[math.random(n)].id
end
