import { paths } from '../../shared/contracts/routes';
import { agentRequest } from './controlPlane';

/** A command as the heartbeat reply carries it. */
export interface SeenCommand {
  id: string;
  type: string;
  epoch: number;
  nodeId: string;
}

/**
 * One node agent played by the test with signed requests, as the real agent sends them: it heartbeats every
 * `intervalMs` against whatever URL `baseUrl()` names (a connection refused while the host is down is only
 * counted), runs each command it is sent once (a real agent remembers the commands it ran), acknowledges it until
 * the acknowledgement is recorded, and takes its role from the commands. `powered()` false means its VM is off: the
 * node is dead and sends nothing.
 */
export class PlayedAgent {
  role: 'active' | 'standby';
  epoch: number;
  /** Commands run, in order (a second run of one id would be a command run twice). */
  readonly runs: SeenCommand[] = [];
  /** Deliveries of a command after its acknowledgement was recorded. */
  readonly deliveredAfterAck: string[] = [];
  readonly acked = new Set<string>();
  /** Heartbeats answered 200, and failed attempts (host down). */
  heard = 0;
  refused = 0;
  #seq = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(
    readonly clusterId: string,
    readonly nodeId: string,
    readonly key: Buffer,
    start: { role: 'active' | 'standby'; epoch: number },
    private readonly baseUrl: () => string,
    readonly powered: () => boolean,
    private readonly intervalMs: number,
  ) {
    this.role = start.role;
    this.epoch = start.epoch;
  }

  start(onTick: () => void): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        try {
          if (this.powered()) await this.tick();
        } catch {
          this.refused++; // the host is down or restarting: try again next interval
        }
        onTick();
        await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  #signed(path: string, body: unknown) {
    return agentRequest(`${this.baseUrl()}${path}`, {
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      key: this.key,
      seq: ++this.#seq,
      body,
    });
  }

  async tick(): Promise<void> {
    const reply = await this.#signed(paths.agentHeartbeat(), {
      role: this.role,
      epoch: this.epoch,
      checks: [{ name: 'ping', status: 'ok' }],
      replicationLagMs: 20,
    });
    if (reply.status !== 200) return;
    this.heard++;
    const commands = (reply.json?.commands ?? []) as SeenCommand[];
    for (const command of commands) {
      if (this.acked.has(command.id)) {
        this.deliveredAfterAck.push(command.id);
        continue;
      }
      if (!this.runs.some((r) => r.id === command.id)) {
        this.runs.push({ id: command.id, type: command.type, epoch: command.epoch, nodeId: this.nodeId });
        if (command.type === 'promote') this.role = 'active';
        if (command.type === 'demote' || command.type === 'fence') this.role = 'standby';
        this.epoch = Math.max(this.epoch, command.epoch);
      }
      const ack = await this.#signed(paths.agentAck(), {
        commandId: command.id,
        type: command.type,
        epoch: command.epoch,
        outcome: 'ok',
        steps: [{ name: command.type, exitCode: 0, durationMs: 5, outputTail: `${command.type} done` }],
      });
      if (ack.status === 200 && ack.json?.recorded !== false) this.acked.add(command.id);
    }
    if (typeof reply.json?.epoch === 'number') this.epoch = Math.max(this.epoch, reply.json.epoch as number);
  }
}
