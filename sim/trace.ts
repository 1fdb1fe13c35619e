/** What the actors did, in simulated real time: the input of the invariant checker. */

/** An action taken as active: an instant. */
export interface ActionRecord {
  t: number;
  node: string;
  /** The epoch the action carries (the epoch of the grant the node acts under). */
  epoch: number;
  /** The store version of the grant commit the node acts under. */
  grantId: number;
  /** The node's monotonic clock at the action, and the true send time and length of the granted lease. */
  local: number;
  grantSentLocal: number;
  leaseMs: number;
}

/**
 * A stretch of real time during which a node believed it held the lease: from the receipt of the grant to the
 * instant its own lease check turns false, or earlier if it dropped the lease (crash, demotion, refusal, newer
 * grant). Computed from the agent's own clock and its own (possibly broken) check.
 */
export interface LeaseSegment {
  node: string;
  grantId: number;
  epoch: number;
  start: number;
  end: number;
  endedBy: string;
}

export interface LogEntry {
  t: number;
  who: string;
  what: string;
}

export class Recorder {
  readonly actions: ActionRecord[] = [];
  readonly segments: LeaseSegment[] = [];
  readonly log: LogEntry[] = [];
  private readonly open = new Map<string, LeaseSegment>();

  constructor(private readonly verbose: boolean) {}

  note(t: number, who: string, what: string): void {
    this.log.push({ t, who, what });
  }

  /** Message-level detail, kept only in verbose runs. */
  detail(t: number, who: string, what: () => string): void {
    if (this.verbose) this.log.push({ t, who, what: what() });
  }

  action(record: ActionRecord): void {
    this.actions.push(record);
  }

  openSegment(node: string, grantId: number, epoch: number, start: number, end: number): void {
    this.closeSegment(node, start, 'newer grant');
    const segment: LeaseSegment = { node, grantId, epoch, start, end, endedBy: 'lease end' };
    this.open.set(node, segment);
  }

  closeSegment(node: string, at: number, endedBy: string): void {
    const segment = this.open.get(node);
    if (!segment) return;
    this.open.delete(node);
    if (at < segment.end) {
      segment.end = at;
      segment.endedBy = endedBy;
    }
    if (segment.end > segment.start) this.segments.push(segment);
  }

  closeAll(at: number): void {
    for (const node of [...this.open.keys()]) this.closeSegment(node, at, 'end of run');
  }
}
