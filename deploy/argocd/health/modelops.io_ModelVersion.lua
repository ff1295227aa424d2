-- Argo CD health of a ModelVersion (resource.customizations.health.modelops.io_ModelVersion).
local hs = {}
local function falseCondition(status)
  for _, c in ipairs(status.conditions or {}) do
    if c.status == "False" and c.type ~= "Available" and c.type ~= "Ready" then
      return c.type .. ": " .. (c.message or c.reason or "")
    end
  end
  return nil
end
-- A new version's first status waits up to 3 s for its Deployment (one write): Pending.
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Pending"
  return hs
end
local st = obj.status
if st.observedGeneration ~= nil and obj.metadata.generation ~= nil
    and st.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to see the latest spec"
  return hs
end
if st.phase == "Ready" then
  hs.status = "Healthy"
  hs.message = "Ready"
elseif st.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = falseCondition(st) or "Failed"
else
  hs.status = "Progressing"
  hs.message = st.phase
  if st.training ~= nil and st.phase == "Training" then
    hs.message = "Training: step " .. (st.training.step or "?") .. ", attempt " ..
      tostring(st.training.attempts or 1)
  end
end
return hs
