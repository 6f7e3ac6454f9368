-- round_robin: each job goes to the next candidate in turn.
-- The turn is kept as the position and id last chosen. While the list is
-- unchanged the next pick is the next position (one step, whatever the
-- number of workers). When the list changed (a worker came, went or filled
-- up) it goes on with the first candidate whose id sorts after the last one,
-- wrapping around, so nobody is skipped or picked twice in a row because
-- positions moved.
function pick(job, workers, state)
  local n = #workers
  if n == 0 then return nil, "no candidate worker" end
  local last = state.last
  local first, after = nil, nil
  if last == nil then
    state.last = workers[1].id
    return state.last
  end
  -- O(1) when the previous worker is still at its place: try the next index.
  local i = state.i
  if i and i >= 1 and i <= n and workers[i].id == last then
    local k = i % n + 1
    state.i, state.last = k, workers[k].id
    return state.last
  end
  -- Otherwise scan for the first id after the last one (and the smallest id).
  for k = 1, n do
    local id = workers[k].id
    if first == nil or id < workers[first].id then first = k end
    if id > last and (after == nil or id < workers[after].id) then after = k end
  end
  local k = after or first
  state.i, state.last = k, workers[k].id
  return state.last
end
