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
 * the acknowledgement is recorded (again every tick, whether or not the heartbeat still carries the command), says
 * in its heartbeats the epoch it demoted itself under, and takes its role from the commands. `powered()` false means its VM is off: the
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
  /** Commands run whose acknowledgement is not recorded yet: sent again every tick, as the agent's AckSender does. */
  readonly #unacked = new Map<string, SeenCommand>();
  /** The highest epoch this node demoted itself under (0: never), reported as `demotedAtEpoch` like the agent. */
  demotedEpoch = 0;
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

  async #ack(command: SeenCommand): Promise<void> {
    const ack = await this.#signed(paths.agentAck(), {
      commandId: command.id,
      type: command.type,
      epoch: command.epoch,
      outcome: 'ok',
      steps: [{ name: command.type, exitCode: 0, durationMs: 5, outputTail: `${command.type} done` }],
    });
    if (ack.status === 200 && ack.json?.recorded !== false) {
      this.acked.add(command.id);
      this.#unacked.delete(command.id);
    }
  }

  async tick(): Promise<void> {
    // Acknowledgements lost while the host was down first (the heartbeat may no longer carry their command).
    for (const command of [...this.#unacked.values()]) await this.#ack(command);
    const reply = await this.#signed(paths.agentHeartbeat(), {
      role: this.role,
      epoch: this.epoch,
      checks: [{ name: 'ping', status: 'ok' }],
      replicationLagMs: 20,
      ...(this.demotedEpoch > 0 && this.demotedEpoch >= this.epoch
        ? { demotedAtEpoch: this.demotedEpoch }
        : {}),
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
        if (command.type === 'demote' || command.type === 'fence') {
          this.role = 'standby';
          this.demotedEpoch = Math.max(this.demotedEpoch, command.epoch);
        }
        this.epoch = Math.max(this.epoch, command.epoch);
      }
      this.#unacked.set(command.id, command);
      await this.#ack(command);
    }
    if (typeof reply.json?.epoch === 'number') this.epoch = Math.max(this.epoch, reply.json.epoch as number);
  }
}
