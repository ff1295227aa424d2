-- Argo CD health of an UpdatePolicy (resource.customizations.health.modelops.io_UpdatePolicy).
local hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end
local st = obj.status
if st.observedGeneration ~= nil and obj.metadata.generation ~= nil
    and st.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to see the latest spec"
  return hs
end
local msg = st.message or st.phase
for _, c in ipairs(st.conditions or {}) do
  if c.type == "Valid" and c.status == "False" then
    hs.status = "Degraded"
    hs.message = c.message
    return hs
  end
end
if st.hold ~= nil then
  -- A manual rollback holds traffic against Git's target until the target changes or retry.
  hs.status = "Degraded"
elseif st.phase == "Promoted" or st.phase == "Idle" then
  hs.status = "Healthy"
elseif st.phase == "Progressing" then
  hs.status = "Progressing"
elseif st.phase == "Paused" then
  hs.status = "Suspended"
elseif st.phase == "RolledBack" and obj.spec.targetVersion ~= nil
    and obj.spec.targetVersion == st.stableVersion then
  -- The user set targetVersion back on purpose: what was asked for is serving.
  hs.status = "Healthy"
else
  -- RolledBack by analysis, or Degraded: the target is not what serves.
  hs.status = "Degraded"
end
hs.message = msg
return hs
