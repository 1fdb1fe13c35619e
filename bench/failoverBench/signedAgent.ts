import { signRequest } from '../../shared/auth/signedRequest';
import { paths } from '../../shared/contracts/routes';

interface ReplyCommand {
  id: string;
  type: string;
  epoch: number;
}

interface HeartbeatReplyView {
  role: 'active' | 'standby';
  epoch: number;
  lease: { durationMs: number } | null;
  commands?: ReplyCommand[];
  heartbeatIntervalMs: number;
}

/**
 * A node agent played in this process with signed HTTP requests exactly as `failover-agent` sends them (the same
 * `signRequest` headers, the heartbeat and acknowledgement bodies of the contract): it heartbeats every interval,
 * takes the role and epoch of each answer, and acknowledges each new command at once as `ok` with one hook step of
 * 0 ms (no hook runs). Used where 200 real agent processes would not fit the machine (the region outage).
 */
export class SignedAgent {
  #seq = 0;
  #role: 'active' | 'standby' = 'standby';
  #epoch = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  readonly #seen = new Set<string>();
  /** Heartbeats answered 200, and other answers or errors (described). */
  ok = 0;
  readonly problems: string[] = [];
  /** When the answer first named this node active under an epoch above `activeSince` (bench clock). */
  becameActiveAt: number | undefined;

  constructor(
    private readonly baseUrl: string,
    readonly clusterId: string,
    readonly nodeId: string,
    private readonly key: Buffer,
    private readonly intervalMs: number,
  ) {}

  get role(): 'active' | 'standby' {
    return this.#role;
  }

  get epoch(): number {
    return this.#epoch;
  }

  async #post(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const text = JSON.stringify(body);
    const headers = signRequest({
      method: 'POST',
      path,
      body: text,
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      keyVersion: 1,
      timestamp: Date.now(),
      seq: ++this.#seq,
      key: this.key,
    });
    const response = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: text,
    });
    const answer = await response.text();
    let json: unknown = undefined;
    try {
      json = answer.length > 0 ? (JSON.parse(answer) as unknown) : undefined;
    } catch {
      json = answer;
    }
    return { status: response.status, json };
  }

  /** One heartbeat and what its answer says (role, epoch, commands acknowledged at once). */
  async heartbeat(): Promise<void> {
    try {
      const answer = await this.#post(paths.agentHeartbeat(), {
        role: this.#role,
        epoch: this.#epoch,
        checks: [{ name: 'ping', status: 'ok' }],
        replicationLagMs: 0,
      });
      if (answer.status !== 200) {
        this.problems.push(`heartbeat ${answer.status}: ${JSON.stringify(answer.json).slice(0, 200)}`);
        return;
      }
      this.ok++;
      const reply = answer.json as HeartbeatReplyView;
      if (reply.role === 'active' && this.#role !== 'active') this.becameActiveAt ??= Date.now();
      this.#role = reply.role === 'active' && reply.lease ? 'active' : 'standby';
      this.#epoch = Math.max(this.#epoch, reply.epoch);
      for (const command of reply.commands ?? []) {
        if (this.#seen.has(command.id)) continue;
        this.#seen.add(command.id);
        const ack = await this.#post(paths.agentAck(), {
          commandId: command.id,
          type: command.type,
          epoch: command.epoch,
          outcome: 'ok',
          steps: [{ name: command.type, exitCode: 0, durationMs: 0, outputTail: '' }],
        });
        if (ack.status !== 200)
          this.problems.push(`ack ${ack.status}: ${JSON.stringify(ack.json).slice(0, 200)}`);
      }
    } catch (error) {
      this.problems.push(`heartbeat failed: ${(error as Error).message}`);
    }
  }

  /** Heartbeats every interval (the first after `firstDelayMs`, to spread many agents over the interval). */
  start(firstDelayMs = 0): void {
    this.#stopped = false;
    const loop = async () => {
      if (this.#stopped) return;
      await this.heartbeat();
      if (!this.#stopped) this.#timer = setTimeout(() => void loop(), this.intervalMs);
    };
    this.#timer = setTimeout(() => void loop(), firstDelayMs);
  }

  /** Stops heartbeating (a node whose region went down: it sends nothing any more). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}
