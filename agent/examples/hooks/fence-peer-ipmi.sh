#!/bin/sh
# failover-agent fencePeer hook: power the peer off through its BMC with IPMI, then read the power state back until
# the BMC says it is off. Exit 0 only then: the acknowledgement of the fence-peer command is the control plane's
# fencing evidence (the old active can no longer act), so "the power-off was sent" is not enough.
#
# From the agent: FP_TARGET_NODE (the node to fence), FP_EPOCH (the epoch it held), FP_OPERATION_ID, FP_CLUSTER,
# FP_NODE (this node, the fencer), and from `peers.<node>.bmc` in its configuration FP_BMC_ADDRESS, FP_BMC_USER and
# FP_BMC_PASSWORD_FILE. The password goes to ipmitool as a file (-f): never on a command line (ps shows those),
# never printed (the output's tail is in the acknowledgement and the status).
# Optional (set them in the step's `env`): FENCE_TIMEOUT_S (default 60; keep the step's timeoutMs above it),
# FENCE_POLL_S (default 2), IPMI_INTERFACE (default lanplus), IPMITOOL (default ipmitool).
#
# Redfish instead of IPMI, same contract (FP_BMC_ADDRESS the service's https:// URL, <id> the system's id):
#   curl -sf -u "$FP_BMC_USER:$(cat "$FP_BMC_PASSWORD_FILE")" -H 'Content-Type: application/json' \
#     -d '{"ResetType": "ForceOff"}' "$FP_BMC_ADDRESS/redfish/v1/Systems/<id>/Actions/ComputerSystem.Reset"
#   then poll GET "$FP_BMC_ADDRESS/redfish/v1/Systems/<id>" until "PowerState" is "Off" (curl --netrc-file or a
#   config file keeps the password off the command line too).
set -eu
: "${FP_TARGET_NODE:?the agent sets FP_TARGET_NODE}"
: "${FP_BMC_ADDRESS:?no peers.${FP_TARGET_NODE}.bmc.address in the agent configuration}"
: "${FP_BMC_USER:?no peers.${FP_TARGET_NODE}.bmc.user in the agent configuration}"
: "${FP_BMC_PASSWORD_FILE:?no peers.${FP_TARGET_NODE}.bmc.passwordFile in the agent configuration}"
timeout_s=${FENCE_TIMEOUT_S:-60}
poll_s=${FENCE_POLL_S:-2}

ipmi() {
  "${IPMITOOL:-ipmitool}" -I "${IPMI_INTERFACE:-lanplus}" -H "$FP_BMC_ADDRESS" -U "$FP_BMC_USER" \
    -f "$FP_BMC_PASSWORD_FILE" "$@"
}

echo "fencing $FP_TARGET_NODE (epoch ${FP_EPOCH:-?}, ${FP_OPERATION_ID:-?}) through its BMC $FP_BMC_ADDRESS"
# Powering off a node that is already off is harmless: the command is sent whatever the state.
if ! ipmi chassis power off; then
  echo "$FP_TARGET_NODE: the BMC $FP_BMC_ADDRESS refused or did not answer 'chassis power off'" >&2
  exit 2
fi
deadline=$(($(date +%s) + timeout_s))
while :; do
  state=$(ipmi chassis power status 2>&1) || state="power status failed: $state"
  case "$state" in
    *"Power is off"*)
      echo "$FP_TARGET_NODE: $state"
      exit 0
      ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$FP_TARGET_NODE is not off ${timeout_s}s after the power-off: $state" >&2
    exit 1
  fi
  sleep "$poll_s"
done
