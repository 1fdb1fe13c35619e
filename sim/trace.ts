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
  /**
   * Set when the node acted under its peer lease alone (its control-plane lease had run out): the epoch's promotable
   * set as its grant carried it, and the promises it held with the TRUE send times of their requests.
   */
  peer?: {
    promotable: string[];
    held: { from: string; epoch: number; sentAt: number; durationMs: number }[];
  };
}

/** A promise as the promising node held it, in real time: from its grant to its end (or its loss in a crash). */
export interface PromiseInterval {
  /** The promising node. */
  node: string;
  to: string;
  epoch: number;
  start: number;
  end: number;
  endedBy: string;
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
  /** When the control-plane lease within it ends (absent: at `end`); past it the node acts under its peer lease. */
  cpEnd?: number;
}

export interface LogEntry {
  t: number;
  who: string;
  what: string;
}

export class Recorder {
  readonly actions: ActionRecord[] = [];
  readonly segments: LeaseSegment[] = [];
  readonly promises: PromiseInterval[] = [];
  private readonly lastPromise = new Map<string, PromiseInterval>();
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

  openSegment(
    node: string,
    grantId: number,
    epoch: number,
    start: number,
    end: number,
    cpEnd?: number,
  ): void {
    this.closeSegment(node, start, 'newer grant');
    const segment: LeaseSegment = {
      node,
      grantId,
      epoch,
      start,
      end,
      endedBy: 'lease end',
      ...(cpEnd !== undefined && cpEnd < end ? { cpEnd } : {}),
    };
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

  /** A promise given (or renewed: merged into the interval it extends, so the list stays short). */
  promise(interval: PromiseInterval): void {
    const last = this.lastPromise.get(`${interval.node}>${interval.to}@${interval.epoch}`);
    if (last && last.end >= interval.start && last.endedBy === 'its end') {
      last.end = Math.max(last.end, interval.end);
      return;
    }
    this.promises.push(interval);
    this.lastPromise.set(`${interval.node}>${interval.to}@${interval.epoch}`, interval);
  }

  /** A crash forgot `node`'s promises (broken rule): their intervals end now. */
  forgetPromises(node: string, at: number): number {
    let n = 0;
    for (const p of this.promises)
      if (p.node === node && p.end > at) {
        p.end = at;
        p.endedBy = 'forgotten in a crash';
        n++;
      }
    return n;
  }

  closeAll(at: number): void {
    for (const node of [...this.open.keys()]) this.closeSegment(node, at, 'end of run');
  }
}
