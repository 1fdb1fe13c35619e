# failover-agent promote hook, EXPRESSCLUSTER-style GPU move (outline): connect the GPU in the ExpEther I/O box
# to this server, assign it to the VM with DDA, start the VM. Run on the Hyper-V host as
#   command: [powershell.exe, -NoProfile, -NonInteractive, -File, 'C:\failover-agent\gpu-move.ps1']
# Every step must be safe to run twice (the agent may be restarted halfway, and retries re-run a step).
$ErrorActionPreference = 'Stop'
$vm = 'GVM1'
$gpuId = '0x8cdf9d911c60'              # the GPU's ExpEther ID
$groupId = 150                          # this server's ExpEther group ID
# The GPU's location path, noted at setup when it was dismounted from the host (Dismount-VMHostAssignableDevice).
$locationPath = 'PCIROOT(0)#PCI(0300)#PCI(0000)'
Write-Output "promote $env:FP_OPERATION_ID under epoch $env:FP_EPOCH on $env:FP_NODE"

# 1. Connect the GPU to this server through the I/O box manager. Replace with the command (or REST call) of
#    your ExpEther Manager installation: it must put GPU $gpuId into group $groupId and fail if it cannot.
& 'C:\failover-agent\eem-connect.cmd' $gpuId $groupId
if ($LASTEXITCODE -ne 0) { throw "the I/O box manager did not connect GPU $gpuId (exit $LASTEXITCODE)" }

# 2. Give the GPU to the VM with DDA.
if (-not (Get-VMAssignableDevice -VMName $vm | Where-Object LocationPath -eq $locationPath)) {
  Add-VMAssignableDevice -LocationPath $locationPath -VMName $vm
}

# 3. Start the VM.
if ((Get-VM -Name $vm).State -ne 'Running') { Start-VM -Name $vm }
Write-Output "$vm running with GPU $gpuId"
