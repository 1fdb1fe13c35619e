#!/bin/sh
# failover-agent promote hook for a Slurm backup controller: make the slurmctld on this node the primary.
#   command: [/usr/local/lib/failover-agent/slurm-takeover.sh]
# slurmctld must already run here as a backup (SlurmctldHost lists this node after the primary).
set -eu
echo "promote ${FP_OPERATION_ID} under epoch ${FP_EPOCH} on ${FP_NODE}"
systemctl is-active --quiet slurmctld || systemctl start slurmctld
scontrol takeover
# Record the controllers' state in the hook's output (kept for `failover-agent status`). Add the readiness test
# that fits your Slurm version here; the hook's timeoutMs bounds it.
scontrol ping
