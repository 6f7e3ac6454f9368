-- Example DAG hooks (docs/flows.md). Use with "hooks": {"file": "example.lua"}.
-- Every function is optional; each runs sandboxed with an instruction budget.

-- Once, before any node starts.
function on_flow_start(flow)
  flow.vars.started_on = flow.date          -- vars are stored with the flow execution
end

-- Before each node starts: return "run" (or nil), "skip" [, reason], or a
-- table of params merged over the node's params.
function on_node_ready(node, flow)
  if node.id == "load" then
    local rows = tonumber(flow.nodes.extract.outputs.rows or "0")
    if rows == 0 then return "skip", "nothing extracted" end
    if rows > 1000000 then return { mode = "bulk" } end
  end
  return "run"
end

-- After each node ends: may set flow variables (set_var, flow.vars, or a
-- returned table).
function on_node_done(node, result, flow)
  set_var("last_node", node.id)
  return { nodes_done = (flow.vars.nodes_done or 0) + 1 }
end

-- Once, when the flow ends.
function on_flow_done(flow, result)
  print("flow " .. flow.name .. " #" .. flow.id .. " ended " .. result.state)
end
