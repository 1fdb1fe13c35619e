# failover-agent demote/fence hook for the GPU move (outline): stop the VM, take the GPU back from it, and
# disconnect it from this server so the other server can connect it. Safe to run twice.
$ErrorActionPreference = 'Stop'
$vm = 'GVM1'
$gpuId = '0x8cdf9d911c60'
# Turn the VM off (not a guest shutdown: the lease may be running out).
if ((Get-VM -Name $vm).State -ne 'Off') { Stop-VM -Name $vm -TurnOff -Force }
Get-VMAssignableDevice -VMName $vm | ForEach-Object { Remove-VMAssignableDevice -VMName $vm -LocationPath $_.LocationPath }
# Replace with your ExpEther Manager's disconnect command.
& 'C:\failover-agent\eem-disconnect.cmd' $gpuId
if ($LASTEXITCODE -ne 0) { throw "the I/O box manager did not disconnect GPU $gpuId (exit $LASTEXITCODE)" }
