/** DTFx history event types, numbered as durable-functions reads them. */
export enum EventType {
  ExecutionStarted = 0,
  ExecutionCompleted = 1,
  ExecutionFailed = 2,
  ExecutionTerminated = 3,
  TaskScheduled = 4,
  TaskCompleted = 5,
  TaskFailed = 6,
  SubOrchestrationInstanceCreated = 7,
  SubOrchestrationInstanceCompleted = 8,
  SubOrchestrationInstanceFailed = 9,
  TimerCreated = 10,
  TimerFired = 11,
  OrchestratorStarted = 12,
  OrchestratorCompleted = 13,
  EventSent = 14,
  EventRaised = 15,
  ContinueAsNew = 16,
  GenericEvent = 17,
  HistoryState = 18,
  ExecutionSuspended = 19,
  ExecutionResumed = 20,
}

/** Why the devhost created a scheduling event: the action's first task, a retry step, or a long-timer segment. */
export type TaskRole = 'task' | 'retryTimer' | 'retryAttempt' | 'longTimerSegment';

/**
 * One history event in the JSON shape the library consumes. Fields starting with `_` are the devhost's own
 * bookkeeping (the library ignores unknown fields); they let the replay check map ids back to actions.
 */
export interface HistoryEvent {
  EventType: EventType;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string | null;
  Result?: string | null;
  Version?: string;
  OrchestrationInstance?: { InstanceId: string; ExecutionId: string };
  ParentInstance?: ParentInstance | null;
  OrchestrationStatus?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  Reason?: string;
  Details?: string;
  InstanceId?: string;
  /** Index of the action (flattened, depth-first) this scheduling event belongs to. */
  _ActionIndex?: number;
  _Role?: TaskRole;
  /** The queue message that delivered this event, for de-duplication of at-least-once deliveries. */
  _MessageId?: string;
}

export interface ParentInstance {
  Name: string;
  OrchestrationInstance: { InstanceId: string; ExecutionId: string };
  TaskScheduleId: number;
}

export const isSchedulingEvent = (e: HistoryEvent): boolean =>
  e.EventType === EventType.TaskScheduled ||
  e.EventType === EventType.SubOrchestrationInstanceCreated ||
  e.EventType === EventType.TimerCreated ||
  e.EventType === EventType.EventSent;

/** The id a completion event answers, or undefined for events that complete nothing. */
export function completedTaskId(e: HistoryEvent): number | undefined {
  switch (e.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return e.TaskScheduledId;
    case EventType.TimerFired:
      return e.TimerId;
    default:
      return undefined;
  }
}

export const isFailure = (e: HistoryEvent): boolean =>
  e.EventType === EventType.TaskFailed || e.EventType === EventType.SubOrchestrationInstanceFailed;

export function event<T extends HistoryEvent = HistoryEvent>(
  type: EventType,
  timestamp: number,
  fields: Partial<T> = {},
): T {
  return {
    EventType: type,
    EventId: -1,
    IsPlayed: false,
    Timestamp: new Date(timestamp).toISOString(),
    ...fields,
  } as T;
}
