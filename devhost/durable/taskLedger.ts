import { completedTaskId, EventType, isSchedulingEvent, type HistoryEvent } from './historyEvent';
import type { RetryOptionsJson } from './action';

/** Scheduling events carry the retry options and long-timer end so the next turn can be planned from history. */
export interface SchedulingExtras {
  _Retry?: RetryOptionsJson;
  _FinalFireAt?: string;
  /** A retry timer after which no attempt follows (attempts exhausted or retry timeout passed). */
  _GiveUp?: boolean;
}

export type LedgerEvent = HistoryEvent & SchedulingExtras;

/** What the history of one execution says about its tasks: which ids exist, which are done, per action. */
export class TaskLedger {
  readonly scheduled = new Map<number, LedgerEvent>();
  readonly completions = new Map<number, LedgerEvent>();
  readonly byAction = new Map<number, LedgerEvent[]>();
  readonly raisedMessageIds = new Set<string>();

  constructor(events: readonly LedgerEvent[]) {
    for (const e of events) this.add(e);
  }

  /** The next sequence id: every id the library handed out has exactly one scheduling event. */
  get nextId(): number {
    return this.scheduled.size;
  }

  add(e: LedgerEvent): void {
    if (isSchedulingEvent(e)) {
      this.scheduled.set(e.EventId, e);
      if (e._ActionIndex !== undefined) {
        const list = this.byAction.get(e._ActionIndex) ?? [];
        list.push(e);
        list.sort((a, b) => a.EventId - b.EventId);
        this.byAction.set(e._ActionIndex, list);
      }
      return;
    }
    const id = completedTaskId(e);
    if (id !== undefined && !this.completions.has(id)) this.completions.set(id, e);
    if (e.EventType === EventType.EventRaised && e._MessageId) this.raisedMessageIds.add(e._MessageId);
  }

  /** The attempts (activity or sub-orchestration scheduling events) recorded for a retry action. */
  attemptsOf(actionIndex: number): LedgerEvent[] {
    return (this.byAction.get(actionIndex) ?? []).filter((e) => e.EventType !== EventType.TimerCreated);
  }

  isOpen(id: number): boolean {
    return this.scheduled.has(id) && !this.completions.has(id);
  }
}
