#!/bin/sh
# failover-agent demote hook for Slurm: this node must stop acting as the controller. Stopping slurmctld here
# lets the other controller (promoted under a newer epoch) be the only primary.
set -eu
echo "demote ${FP_OPERATION_ID} under epoch ${FP_EPOCH} on ${FP_NODE}: ${FP_REASON}"
systemctl stop slurmctld
