-- Pagoda alarm hook (docs/alarms.md "Lua hook"). Every NAME.lua of this
-- directory defines on_alarm(alarm); they run in file-name order when an
-- alarm is raised, before it is stored and sent.
--
-- alarm: {event, rule, subject, text, job, flow, schedule, worker,
--         execution_id, flow_execution_id, count, channels = {...}, ...}
-- Return nil to keep it, false to drop it, or a table whose subject, text
-- and channels replace the alarm's.
--
-- This example keeps every alarm; uncomment to adapt.
function on_alarm(alarm)
  -- Drop the alarms of scratch jobs:
  -- if alarm.job and alarm.job:match("^scratch%-") then return false end
  --
  -- Page the on-call person for lost workers, with a marked subject:
  -- if alarm.event == "worker_lost" then
  --   return {channels = {"oncall-mail"}, subject = "[P1] " .. alarm.subject}
  -- end
  return nil
end
