import type { SiteCount, SkippedSite } from '../../domain/spilloverPlan';
import type { OperationTrigger } from '../../stores/operationStore';

/** What starts a spillover run of a pool (`pool-<cluster>-<pool>`, one per pool at a time). */
export interface SpilloverInput {
  clusterId: string;
  poolId: string;
  /** The run's operation record (`spill-<base36 time>`). */
  operationId: string;
  trigger: OperationTrigger;
  actor: string;
  reason: string;
  requestedAt: number;
}

export interface SpilloverResult {
  status: 'succeeded' | 'failed' | 'refused';
  /** The demand when the run ended, the nodes placed then, and what is missing. */
  demand: number;
  placed: number;
  shortfall: number;
  reason: string;
  code?: string;
  rounds: number;
}

export type BeginSpilloverOutcome =
  | {
      ok: true;
      /** Rounds of (refresh, plan, provision) at most, before the run ends with what it has. */
      maxRounds: number;
      /** How many idle nodes a spill-back moves per run (0: none). */
      spillBackBatch: number;
    }
  | { ok: false; result: SpilloverResult };

export interface RoundInput {
  input: SpilloverInput;
  round: number;
}

/** Which sites' headroom to read this round: every site not cooling down (`all`), or the ones named. */
export interface RefreshInput extends RoundInput {
  sites: 'all' | string[];
}

export interface RefreshOutcome {
  read: string[];
  failed: string[];
}

export interface RoundPlan {
  demand: number;
  placed: number;
  add: SiteCount[];
  remove: SiteCount[];
  skipped: SkippedSite[];
  shortfall: number;
}

/** Provision `count` nodes in one site (one cloud operation where the cloud allows). */
export interface ProvisionInput extends RoundInput {
  siteId: string;
  count: number;
  /** `demand`: to meet the demand; `spill-back`: replacements for idle nodes in less preferred sites. */
  purpose: 'demand' | 'spill-back';
}

export type ProvisionOutcome =
  | { outcome: 'placed'; siteId: string; nodeIds: string[] }
  | { outcome: 'cooled'; siteId: string; kind: string; until: number; message: string }
  | { outcome: 'throttled'; siteId: string; retryAfterMs: number; message: string };

/** Remove nodes from one site: `count` chosen by the store (idle first, newest first), or the nodes named. */
export interface ReleaseInput extends RoundInput {
  siteId: string;
  count?: number;
  nodeIds?: string[];
  reason: string;
}

export type ReleaseOutcome =
  | { outcome: 'released'; siteId: string; nodeIds: string[] }
  | { outcome: 'throttled'; siteId: string; retryAfterMs: number; message: string }
  | { outcome: 'failed'; siteId: string; message: string };

export interface SpillBackPlan {
  moves: { from: string; to: string; nodeIds: string[] }[];
}

export interface FinishSpilloverInput {
  input: SpilloverInput;
  rounds: number;
  /** Why the rounds stopped, when it was not because the demand was met. */
  note?: string;
}
