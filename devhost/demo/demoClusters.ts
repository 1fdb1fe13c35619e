import { LOCAL_AZURE_SUBSCRIPTION, LOCAL_OCI_COMPARTMENT } from '../cloudSimulator/startLocalCloud';

/**
 * The demo fleet's clusters, modelled on the users' setups. Each node's hooks stand in for the real steps: a step
 * prints what it would do and takes about as long (`says`, `ms`). Node ids are unique across the fleet, so a node
 * can be named alone (`demo kill master1`).
 */

/** One hook step of a demo node: what the real step would do, and how long it takes here. */
export interface DemoStep {
  name: string;
  says: string;
  ms: number;
}

/** A VM the cloud simulator runs for a demo node. */
export interface DemoVm {
  cloud: 'azure' | 'oci';
  name: string;
  region: string;
  size: string;
  /** Already seeded by the local cloud (head-a, head-b in resource group hpc-demo). */
  seeded?: boolean;
}

export interface DemoNode {
  id: string;
  role: 'active' | 'standby';
  site: { cloud: 'azure' | 'oci' | 'on-prem'; region: string };
  priority?: number;
  /** The simulated VM this node runs on (cloud nodes only; left out without the cloud simulator). */
  vm?: DemoVm;
  /** Reports GPUs through a stand-in `nvidia-smi` (the agent's `gpu` check). */
  gpus?: number;
  promote: DemoStep[];
  demote: DemoStep[];
  fence: DemoStep[];
}

export interface DemoCluster {
  id: string;
  kind: 'active-passive' | 'two-node-witness' | 'multi-region';
  description: string;
  nodes: DemoNode[];
  /** Pools (cluster document `pools`), declared only with the cloud simulator. */
  pools?: Record<string, unknown>[];
}

/**
 * Short detection windows so a failure is seen in seconds: heartbeats every 500 ms, a failure after 6 missed (3 s),
 * a 3 s lease. Roomy enough for a 2-core laptop running ten agents.
 */
export const DEMO_DETECTION = {
  heartbeatIntervalMs: 500,
  missedHeartbeats: 6,
  leaseMs: 3000,
  driftMarginMs: 250,
} as const;

/** Automatic failover, with a cool-down short enough to fail a cluster back and forth while watching. */
export const DEMO_FAILOVER = {
  mode: 'automatic',
  cooldownMs: 20_000,
  maxFailoversPerPeriod: 10,
  periodMs: 600_000,
  promoteTimeoutMs: 60_000,
} as const;

const GPU_SIZE = 'Standard_NC24ads_A100_v4';
const OCI_GPU_SHAPE = 'VM.GPU.A10.1';
const OCI_FRANKFURT_AD = 'SIM:EU-FRANKFURT-1-AD-1';

export const demoScaleSetId = (name: string): string =>
  `/subscriptions/${LOCAL_AZURE_SUBSCRIPTION}/resourceGroups/hpc-demo/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`;
export const demoVmId = (vm: DemoVm): string =>
  vm.cloud === 'azure'
    ? `/subscriptions/${LOCAL_AZURE_SUBSCRIPTION}/resourceGroups/hpc-demo/providers/Microsoft.Compute/virtualMachines/${vm.name}`
    : `ocid1.instance.oc1.${vm.region}.${vm.name.replace(/[^a-z0-9]/g, '')}`;

/** Scale sets the demo pools use that the local cloud does not seed (gpu-westeurope, gpu-northeurope are seeded). */
export const DEMO_SCALE_SETS = [{ name: 'burst-eastus', region: 'eastus', size: GPU_SIZE }] as const;

const step = (name: string, says: string, ms: number): DemoStep => ({ name, says, ms });

export function demoClusters(): DemoCluster[] {
  return [
    {
      id: 'witness-pair',
      kind: 'two-node-witness',
      description:
        'Two-node Windows Server failover cluster with a cloud witness: the SQL Server role moves between the nodes',
      nodes: ['wsfc-1', 'wsfc-2'].map((id, i) => ({
        id,
        role: i === 0 ? 'active' : 'standby',
        site: { cloud: 'on-prem', region: 'hall-1' },
        ...(i === 1 ? { priority: 10 } : {}),
        promote: [
          step('online-disk', 'Move-ClusterSharedVolume: bring cluster disk "SQLData" online here', 700),
          step('move-role', 'Move-ClusterGroup "SQL Server (MSSQLSERVER)" to this node', 1200),
        ],
        demote: [step('offline-role', 'Stop-ClusterGroup "SQL Server (MSSQLSERVER)" on this node', 600)],
        fence: [step('isolate', 'Suspend-ClusterNode -Drain: take this node out of the cluster', 400)],
      })),
    },
    {
      id: 'bcm-head',
      kind: 'active-passive',
      description: 'Bright Cluster Manager head-node pair: the passive head takes over with cmha makeactive',
      nodes: ['master1', 'master2'].map((id, i) => ({
        id,
        role: i === 0 ? 'active' : 'standby',
        site: { cloud: 'on-prem', region: 'dc-rack-4' },
        ...(i === 1 ? { priority: 10 } : {}),
        promote: [
          step('makeactive', 'echo c | cmha makeactive (this head becomes the active head node)', 1500),
          step('shared-ip', 'bring up the shared IP 10.141.255.254 and mount /cm/shared', 500),
          step('cmdaemon', 'start cmdaemon, mysql (master), slurmctld', 900),
        ],
        demote: [step('stop-services', 'stop slurmctld, cmdaemon; release 10.141.255.254', 800)],
        fence: [step('fence-self', 'unmount /cm/shared and block the shared IP', 300)],
      })),
    },
    {
      id: 'gpu-vm',
      kind: 'active-passive',
      description:
        'A GPU VM moved in ordered steps between two Hyper-V servers (EXPRESSCLUSTER with ExpEther I/O boxes)',
      nodes: ['hv-a', 'hv-b'].map((id, i) => ({
        id,
        role: i === 0 ? 'active' : 'standby',
        site: { cloud: 'on-prem', region: 'lab-1' },
        ...(i === 1 ? { priority: 10 } : {}),
        gpus: 1,
        promote: [
          step(
            'gpu-attach',
            'attach GPU 0 of I/O box eeb-01 to this server through the ExpEther Manager',
            900,
          ),
          step('dda-assign', 'Add-VMAssignableDevice: assign the GPU to VM render-01 with DDA', 1100),
          step('start-vm', 'Start-VM render-01 and wait for its heartbeat', 1800),
        ],
        demote: [
          step('stop-vm', 'Stop-VM render-01 -Force', 900),
          step('dda-remove', 'Remove-VMAssignableDevice: take the GPU back from render-01', 600),
          step('gpu-detach', 'detach the GPU from this server through the ExpEther Manager', 700),
        ],
        fence: [step('gpu-detach', 'detach the GPU from this server through the ExpEther Manager', 700)],
      })),
    },
    {
      id: 'hpc-head',
      kind: 'multi-region',
      description:
        'HPC head-node pair on Azure VMs in two regions, with a GPU pool in scale sets (Slurm controller takeover)',
      nodes: (
        [
          ['head-a', 'westeurope'],
          ['head-b', 'northeurope'],
        ] as const
      ).map(([id, region], i) => ({
        id,
        role: i === 0 ? 'active' : 'standby',
        site: { cloud: 'azure', region },
        ...(i === 1 ? { priority: 10 } : {}),
        vm: { cloud: 'azure', name: id, region, size: 'Standard_D4s_v5', seeded: true },
        promote: [
          step('mount-home', 'mount /home and /opt/slurm/state from the replica in this region', 600),
          step('takeover', 'scontrol takeover: this slurmctld becomes the primary controller', 1200),
          step('dns', 'point slurm-head.hpc.internal at this VM (Azure private DNS)', 400),
        ],
        demote: [step('release', 'stop slurmctld; unmount /opt/slurm/state', 700)],
        fence: [step('release', 'stop slurmctld; unmount /opt/slurm/state', 500)],
      })),
      pools: [
        {
          id: 'gpu',
          desired: 2,
          sites: [
            {
              id: 'we',
              cloud: 'azure',
              region: 'westeurope',
              size: GPU_SIZE,
              group: demoScaleSetId('gpu-westeurope'),
            },
            {
              id: 'ne',
              cloud: 'azure',
              region: 'northeurope',
              size: GPU_SIZE,
              group: demoScaleSetId('gpu-northeurope'),
            },
          ],
        },
      ],
    },
    {
      id: 'xcloud',
      kind: 'multi-region',
      description: 'Cross-cloud pair, an Azure VM and an OCI instance, with a GPU pool over Azure and OCI',
      nodes: [
        {
          id: 'ctl-azure',
          role: 'active',
          site: { cloud: 'azure', region: 'eastus' },
          vm: { cloud: 'azure', name: 'xcloud-ctl', region: 'eastus', size: 'Standard_D4s_v5' },
          promote: [
            step('scheduler', 'start the job scheduler and claim the queue lock', 800),
            step('endpoint', 'move the API endpoint to this cloud (Traffic Manager priority 1)', 600),
          ],
          demote: [step('scheduler-stop', 'stop the job scheduler and release the queue lock', 500)],
          fence: [step('scheduler-stop', 'stop the job scheduler and release the queue lock', 500)],
        },
        {
          id: 'ctl-oci',
          role: 'standby',
          priority: 10,
          site: { cloud: 'oci', region: 'eu-frankfurt-1' },
          vm: { cloud: 'oci', name: 'xcloud-ctl-oci', region: 'eu-frankfurt-1', size: 'VM.Standard.E5.Flex' },
          promote: [
            step('scheduler', 'start the job scheduler and claim the queue lock', 800),
            step('endpoint', 'move the API endpoint to this cloud (OCI DNS steering policy)', 700),
          ],
          demote: [step('scheduler-stop', 'stop the job scheduler and release the queue lock', 500)],
          fence: [step('scheduler-stop', 'stop the job scheduler and release the queue lock', 500)],
        },
      ],
      pools: [
        {
          id: 'burst',
          desired: 0,
          sites: [
            {
              id: 'eastus',
              cloud: 'azure',
              region: 'eastus',
              size: GPU_SIZE,
              group: demoScaleSetId('burst-eastus'),
            },
            {
              id: 'fra',
              cloud: 'oci',
              region: 'eu-frankfurt-1',
              zone: OCI_FRANKFURT_AD,
              size: OCI_GPU_SHAPE,
              group: LOCAL_OCI_COMPARTMENT,
            },
          ],
        },
      ],
    },
  ];
}

/** The cluster document the control plane gets for a demo cluster (`cloud`: the simulator runs its VMs). */
export function demoClusterDocument(cluster: DemoCluster, cloud: boolean): Record<string, unknown> {
  return {
    id: cluster.id,
    kind: cluster.kind,
    description: `Demo: ${cluster.description}`,
    nodes: cluster.nodes.map((node) => ({
      id: node.id,
      role: node.role,
      site: node.site,
      ...(node.priority !== undefined ? { priority: node.priority } : {}),
      compute:
        cloud && node.vm
          ? node.vm.cloud === 'azure'
            ? { kind: 'azure-vm', resourceId: demoVmId(node.vm) }
            : { kind: 'oci-instance', ocid: demoVmId(node.vm) }
          : { kind: 'none' },
      ...(cloud && node.vm ? { size: node.vm.size } : {}),
    })),
    detection: DEMO_DETECTION,
    failover: DEMO_FAILOVER,
    ...(cloud && cluster.pools ? { pools: cluster.pools } : {}),
  };
}
