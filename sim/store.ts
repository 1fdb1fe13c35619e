import type { ClusterState } from '../shared/domain/clusterState';

/** `reaffirm-grant`: the heartbeat handler's one write that reaffirms the active under a new epoch and grants it. */
export type CommitKind = 'declare' | 'grant' | 'reaffirm-grant' | 'revoke' | 'fence' | 'promote' | 'reaffirm';

/** One successful write of the cluster-state entity, in simulated real time. */
export interface Commit {
  t: number;
  version: number;
  kind: CommitKind;
  /** The controller instance (or node, for a grant: the node granted). */
  by: string;
  state: ClusterState;
  prev: ClusterState;
}

export interface Versioned {
  state: ClusterState;
  /** The ETag: the version of the entity read. */
  etag: number;
}

/**
 * The cluster-state register: reads return the state with its version (ETag); writes are compare-and-set on that
 * version (If-Match). With `ifMatch` off (a broken rule) every write succeeds, last writer wins. Each write is
 * linearised at the instant the scheduler executes it.
 */
export class StateStore {
  private state: ClusterState;
  private version = 1;
  readonly commits: Commit[] = [];

  constructor(
    initial: ClusterState,
    private readonly ifMatch: boolean,
    at: number,
  ) {
    this.state = initial;
    this.commits.push({ t: at, version: 1, kind: 'declare', by: 'admin', state: initial, prev: initial });
  }

  read(): Versioned {
    return { state: this.state, etag: this.version };
  }

  get current(): ClusterState {
    return this.state;
  }

  /** Returns the new version, or null when the If-Match precondition failed (412). */
  compareAndSet(etag: number, next: ClusterState, kind: CommitKind, by: string, at: number): number | null {
    if (this.ifMatch && etag !== this.version) return null;
    const prev = this.state;
    this.state = next;
    this.version++;
    this.commits.push({ t: at, version: this.version, kind, by, state: next, prev });
    return this.version;
  }
}
